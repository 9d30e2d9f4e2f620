#!/bin/sh
# A trigger binary for the rule fixtures: wants nothing.
echo '{"wants": []}'
