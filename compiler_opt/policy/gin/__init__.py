"""The policy networks' gin files; a package, so that `include 'compiler_opt/policy/gin/actor.gin'` resolves from any working directory."""
