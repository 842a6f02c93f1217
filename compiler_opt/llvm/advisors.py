"""The ML advisors a stock clang (LLVM >= 17) can hand to a host over FIFOs.

Each advisor is switched to "release" mode with an interactive channel base;
clang then writes observations to `<base>.out` and reads advice from
`<base>.in`. This module is the only place that knows those option names.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Advisor:
    """One interactive ML advisor of LLVM and the options that control it."""

    name: str
    enable_options: tuple[str, ...]
    channel_option: str
    include_default_option: str | None = None
    # The regalloc advisors send their header with the first decision, so a module with nothing to decide
    # exits successfully without one; the inliner sends it when its pass starts.
    header_with_first_decision: bool = False

    def options(self, channel_base: str, include_default: bool = False) -> list[str]:
        """The `-mllvm` arguments that route this advisor's decisions to `channel_base`."""
        llvm_options = list(self.enable_options)
        llvm_options.append(f"-{self.channel_option}={channel_base}")
        if include_default:
            if self.include_default_option is None:
                raise ValueError(f"the {self.name} advisor cannot send its default decision")
            llvm_options.append(f"-{self.include_default_option}")
        return [arg for option in llvm_options for arg in ("-mllvm", option)]


INLINING = Advisor(
    name="inlining",
    enable_options=("-enable-ml-inliner=release",),
    channel_option="inliner-interactive-channel-base",
    include_default_option="inliner-interactive-include-default",
)
REGALLOC_EVICTION = Advisor(
    name="regalloc-eviction",
    enable_options=("-regalloc-enable-advisor=release",),
    channel_option="regalloc-evict-interactive-channel-base",
    header_with_first_decision=True,
)
REGALLOC_PRIORITY = Advisor(
    name="regalloc-priority",
    enable_options=("-regalloc-enable-priority-advisor=release",),
    channel_option="regalloc-priority-interactive-channel-base",
    header_with_first_decision=True,
)

ALL_ADVISORS: tuple[Advisor, ...] = (INLINING, REGALLOC_EVICTION, REGALLOC_PRIORITY)

ECHO_REPLY_OPTION = ("-mllvm", "-interactive-model-runner-echo-reply")
