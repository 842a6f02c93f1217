"""Find a clang with interactive ML advisors and the LLVM tools beside it.

Search order: an explicit path (`--clang`), `$MLGO_CLANG`, the versioned names
`clang-22` ... `clang-17` on PATH, then plain `clang`. clang older than 17 has
no interactive mode for its ML advisors and is refused with a message saying
how to get a newer one. What a binary supports is probed once and cached on
disk, keyed by the binary's path, size and modification time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from compiler_opt.errors import MlgoError
from compiler_opt.llvm import probes
from compiler_opt.llvm.advisors import ALL_ADVISORS
from compiler_opt.llvm.run import run_captured
from compiler_opt.paths import cache_dir

MIN_MAJOR = 17
VERSION_TIMEOUT = 15.0  # seconds for `clang --version`, which answers in milliseconds
PROBE_TIMEOUT = 120.0  # seconds for listing the compiler's options
NEWEST_MAJOR = 22
REQUIRED_TOOLS = ("llvm-size", "llvm-objcopy")
INSTALL_HINT = (
    "Install one with `apt-get install clang-19 llvm-19` (Debian/Ubuntu), or point "
    "--clang / MLGO_CLANG at a clang >= 17 built with its usual LLVM tools."
)


class ToolchainError(MlgoError):
    """No usable compiler or LLVM tool; the message says what to do."""


@dataclass(frozen=True)
class Toolchain:
    """A clang binary, its version and the LLVM tools installed beside it."""

    clang: Path
    version: tuple[int, int, int]
    version_text: str
    tools: dict[str, Path] = field(compare=False)

    @property
    def major(self) -> int:
        return self.version[0]

    @property
    def identity(self) -> str:
        """A string that changes whenever the compiler binary changes."""
        return f"{self.version_text}|{_fingerprint(self.clang)}"

    def tool(self, name: str) -> Path:
        """The path of an LLVM tool (for example `llvm-size`), found on first use."""
        if name not in self.tools:
            self.tools[name] = _find_tool(self.clang, self.major, name)
        return self.tools[name]

    def probe(self) -> ToolchainProbe:
        """What this compiler supports, probed once per binary and cached on disk."""
        return _probe_cached(self)


@dataclass(frozen=True)
class ToolchainProbe:
    """The result of probing a clang binary."""

    advisors: frozenset[str]
    llvm_options: frozenset[str]
    facts: dict = field(default_factory=dict, compare=False)

    def require(self, advisor_name: str, clang: Path) -> None:
        if advisor_name not in self.advisors:
            raise ToolchainError(
                f"{clang} has no interactive mode for the {advisor_name} advisor "
                f"(it supports: {', '.join(sorted(self.advisors)) or 'none'}). {INSTALL_HINT}"
            )


def find_toolchain(explicit: str | os.PathLike | None = None) -> Toolchain:
    """The toolchain to use, from `explicit`, $MLGO_CLANG, or the PATH."""
    candidates: list[str]
    if explicit:
        candidates = [os.fspath(explicit)]
    elif os.environ.get("MLGO_CLANG"):
        candidates = [os.environ["MLGO_CLANG"]]
    else:
        candidates = [f"clang-{major}" for major in range(NEWEST_MAJOR, MIN_MAJOR - 1, -1)]
        candidates.append("clang")
    explicit_choice = bool(explicit or os.environ.get("MLGO_CLANG"))
    too_old: list[str] = []
    for name in candidates:
        path = shutil.which(name)
        if path is None:
            if explicit_choice:
                raise ToolchainError(f"compiler {name!r} not found or not executable. {INSTALL_HINT}")
            continue
        toolchain = _load(Path(path))
        if toolchain.major >= MIN_MAJOR:
            for tool in REQUIRED_TOOLS:
                toolchain.tool(tool)
            return toolchain
        too_old.append(f"{path} is clang {'.'.join(map(str, toolchain.version))}")
        if explicit_choice:
            break
    if too_old:
        raise ToolchainError(
            f"{'; '.join(too_old)}: clang >= {MIN_MAJOR} is needed, since older releases have no "
            f"interactive mode for their ML advisors. {INSTALL_HINT}"
        )
    raise ToolchainError(f"no clang found on PATH (looked for {', '.join(candidates)}). {INSTALL_HINT}")


@functools.cache
def _load(path: Path) -> Toolchain:
    resolved = Path(os.path.realpath(path))
    out = _version_output(path, resolved)
    match = re.search(r"clang version (\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise ToolchainError(f"{path} does not look like clang (`--version` printed {out[:200]!r})")
    version = (int(match[1]), int(match[2]), int(match[3]))
    return Toolchain(clang=resolved, version=version, version_text=out.splitlines()[0], tools={})


def _version_output(path: Path, resolved: Path) -> str:
    """What `resolved --version` prints (undecodable bytes replaced); a `ToolchainError` naming `path` if it fails."""
    try:
        result = run_captured([str(resolved), "--version"], timeout=VERSION_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise ToolchainError(
            f"{path} --version did not answer within {VERSION_TIMEOUT:g} s (killed); is it a clang? {INSTALL_HINT}"
        ) from error
    except OSError as error:
        raise ToolchainError(f"cannot run {path} --version: {error}. {INSTALL_HINT}") from error
    if result.returncode != 0:
        tail = result.stderr[-500:].decode("utf-8", "replace").strip()
        raise ToolchainError(f"{path} --version failed (exit status {result.returncode}): {tail!r}. {INSTALL_HINT}")
    return result.stdout.decode("utf-8", "replace")


def _find_tool(clang: Path, major: int, name: str) -> Path:
    beside = clang.parent / name
    if os.access(beside, os.X_OK):
        return beside
    for candidate in (f"{name}-{major}", name):
        found = shutil.which(candidate)
        if found:
            return Path(found)
    raise ToolchainError(
        f"{name} not found beside {clang} nor as {name}-{major} or {name} on PATH. "
        f"Install the LLVM tools of the same release (Debian/Ubuntu: `apt-get install llvm-{major}`)."
    )


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path}:{stat.st_size}:{int(stat.st_mtime)}"


def _probe_cached(toolchain: Toolchain) -> ToolchainProbe:
    key = hashlib.sha256(toolchain.identity.encode()).hexdigest()[:24]
    cache_file = cache_dir() / "toolchains" / f"{key}.json"
    try:
        data = json.loads(cache_file.read_text())
        return ToolchainProbe(frozenset(data["advisors"]), frozenset(data["llvm_options"]), data["facts"])
    except (OSError, ValueError, KeyError):
        pass
    probe = _run_probe(toolchain)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(
        json.dumps(
            {
                "clang": str(toolchain.clang),
                "identity": toolchain.identity,
                "advisors": sorted(probe.advisors),
                "llvm_options": sorted(probe.llvm_options),
                "facts": probe.facts,
            },
            indent=1,
        )
    )
    os.replace(tmp, cache_file)
    return probe


def _run_probe(toolchain: Toolchain) -> ToolchainProbe:
    argv = [str(toolchain.clang), "-mllvm", "--help-list-hidden", "-c", "-x", "c", os.devnull, "-o", os.devnull]
    try:
        listing = run_captured(argv, timeout=PROBE_TIMEOUT).stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as error:
        raise ToolchainError(
            f"{toolchain.clang} did not list its options within {PROBE_TIMEOUT:g} s (killed)"
        ) from error
    options = frozenset(re.findall(r"^\s+--?([A-Za-z0-9][\w.-]*)", listing, flags=re.MULTILINE))
    advisors = frozenset(a.name for a in ALL_ADVISORS if a.channel_option in options)
    facts = probes.probe_facts(toolchain.clang, advisors, options)
    return ToolchainProbe(advisors, options, facts)
