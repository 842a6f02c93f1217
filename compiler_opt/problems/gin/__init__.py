"""The problems' gin files, a package per problem, so that gin finds them from any working directory."""
