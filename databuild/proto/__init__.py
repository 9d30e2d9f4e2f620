"""Generated protobuf code for proto/databuild.proto (do not edit; run tools/gen_proto)."""
