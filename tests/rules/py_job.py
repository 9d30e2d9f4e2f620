"""Test fixture for the DataBuild rules: a py_binary job that answers `config` with no configs."""

import json
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["config"]:
        print(json.dumps({"configs": []}))
    elif sys.argv[1:2] != ["exec"]:
        sys.exit(f"usage: {sys.argv[0]} config REF... | exec ARGS...")
