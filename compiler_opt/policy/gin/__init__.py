"""The policy networks' gin files; a package, so that gin finds them from any working directory.

Include them by package, `include 'compiler_opt.policy.gin/actor.gin'`: gin resolves that form against the
installed package only, never against the working directory (`compiler_opt/policy/gin/actor.gin` works too,
but a file of that relative path in the working directory would win).
"""
