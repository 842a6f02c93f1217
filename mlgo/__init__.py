"""The `mlgo` command: one small module per verb, each thin over compiler_opt."""
