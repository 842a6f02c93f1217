"""Drive one clang compile whose ML advisor asks this process for every decision.

`InteractiveCompile` makes the two FIFOs LLVM's interactive model runner uses
(`<base>.out`: compiler -> host, `<base>.in`: host -> compiler) in a private
temp dir, starts clang in its own process group, reads the log header, and
then yields one `Observation` per decision; the caller answers each with
`advise`. Both FIFOs are opened read-write on this side, so neither open can
block and a compile that makes no decision cannot hang the host; the end of
the compiler is seen through a pidfd polled beside the FIFO. Both FIFOs are
non-blocking: a write of advice that the compiler does not read (the pipe is
full) waits for room under the same deadlines as a read, and fails when the
compiler exits instead (a write can never fail by itself, since this side
holds the read end too). The project opens one only through
`compiler_opt.llvm.compile.compile_answering`.

Failures are typed (`compiler_opt.llvm.failures`) and carry the compiler's exit code and stderr tail:
`CompilerCrash`, `CompilerTimeout` (per-compile wall limit or per-read limit,
after which the whole process group is killed), and `ChannelProtocolError`
(malformed header, truncated record). On leaving the `with` block, normally or
not, the process group is gone and the FIFOs and temp dir are removed.

Host and compiler take turns (the compiler waits for each advice), so they
share one CPU: by default the calling thread and the compiler are pinned to
the CPU the thread runs on for the duration of the compile. On the 2-core VMs
measured here this took the channel's wall-time cost on a 5,292-decision
module from about +50% to +10-20%, because every decision otherwise pays two
cross-CPU wake-ups. A worker pool passes each worker's own CPU as `cpu`.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.advisors import Advisor
from compiler_opt.llvm.failures import (
    ChannelProtocolError,
    CompilerCrash,
    CompilerFailure,
    CompilerTimeout,
    raise_start_failure,
)
from compiler_opt.llvm.log_format import LogFormatError, LogHeader, Observation, RecordParser
from compiler_opt.llvm.run import STDERR_TAIL_BYTES

_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class CompileOutcome:
    """What a finished interactive compile reports."""

    returncode: int
    seconds: float
    decisions: int
    stderr_tail: str


class _TimedFifoReader:
    """Buffered reads from the compiler's FIFO, bounded by per-read and overall deadlines."""

    def __init__(self, fd: int, pidfd: int, owner: InteractiveCompile) -> None:
        self._fd = fd
        self._owner = owner
        self._buffer = bytearray()
        self._start = 0
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._poll.register(pidfd, select.POLLIN)
        self._pidfd = pidfd
        self.exited = False
        self.transcript: BinaryIO | None = None

    def _fill(self) -> bool:
        """Read more bytes; False once the compiler has exited and the FIFO is drained."""
        while True:
            if not self.exited:
                events = self._poll.poll(self._owner.read_wait_seconds() * 1000)
                if not events:
                    self._owner.on_timeout()
                for fd, _ in events:
                    if fd == self._pidfd:
                        self.exited = True
            try:
                chunk = os.read(self._fd, _READ_CHUNK)
            except BlockingIOError:
                if self.exited:
                    return False
                continue
            if self.transcript is not None:
                self.transcript.write(chunk)
            if self._start > _READ_CHUNK:
                del self._buffer[: self._start]
                self._start = 0
            self._buffer += chunk
            return True

    def readline(self) -> bytes:
        while True:
            end = self._buffer.find(b"\n", self._start)
            if end >= 0:
                line = bytes(self._buffer[self._start : end + 1])
                self._start = end + 1
                return line
            if not self._fill():
                line = bytes(self._buffer[self._start :])
                self._start = len(self._buffer)
                return line

    def read_exact(self, size: int) -> bytes:
        while len(self._buffer) - self._start < size:
            if not self._fill():
                raise LogFormatError(
                    f"stream ends inside a record: wanted {size} bytes, got {len(self._buffer) - self._start}"
                )
        data = bytes(self._buffer[self._start : self._start + size])
        self._start += size
        return data


class InteractiveCompile:
    """One clang run with one advisor in interactive mode; use as a context manager.

    `argv` is the complete compile command without the advisor's options;
    `module` names the module in errors. With `expect_header=False`, a
    compiler that exits successfully without ever starting the advisor (no
    optimizing pipeline, e.g. `-O0`) is no error: `header` stays None and
    there are no observations. With `passthrough`, the compiler shares this
    process's stdin, stdout and stderr (a drop-in compiler), so failures carry
    no stderr tail.
    """

    def __init__(
        self,
        argv: Sequence[str],
        advisor: Advisor,
        *,
        module: str = "",
        include_default: bool = False,
        timeout: float = 600.0,
        read_timeout: float = 120.0,
        temp_parent: str | os.PathLike | None = None,
        transcript: str | os.PathLike | None = None,
        cpu: int | None | bool = True,
        expect_header: bool = True,
        passthrough: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.advisor = advisor
        self.module = module or "compile"
        self.include_default = include_default
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._temp_parent = temp_parent
        self._transcript_path = transcript
        self._cpu = cpu
        self._expect_header = expect_header
        self._passthrough = passthrough
        self._saved_affinity: set[int] | None = None
        self._transcript: BinaryIO | None = None
        self._dir: str | None = None
        self._process: subprocess.Popen | None = None
        self._fds: list[int] = []
        self._stderr: BinaryIO | None = None
        self._reader: _TimedFifoReader | None = None
        self._parser: RecordParser | None = None
        self._advice_format: Callable[[Any], bytes] = _no_decision_pending
        self._in_fd = -1
        self._pidfd = -1
        self._started = 0.0
        self.decisions = 0
        self.header: LogHeader | None = None

    def __enter__(self) -> InteractiveCompile:
        try:
            self._start()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._cleanup()

    def _start(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="mlgo-channel-", dir=self._temp_parent)
        base = os.path.join(self._dir, "channel")
        os.mkfifo(base + ".out")
        os.mkfifo(base + ".in")
        out_fd = os.open(base + ".out", os.O_RDWR | os.O_NONBLOCK)
        self._fds.append(out_fd)
        self._in_fd = os.open(base + ".in", os.O_RDWR | os.O_NONBLOCK)
        self._fds.append(self._in_fd)
        if not self._passthrough:
            self._stderr = open(os.path.join(self._dir, "stderr"), "w+b")
        if self._transcript_path is not None:
            self._transcript = open(self._transcript_path, "wb")
        command = self.argv + self.advisor.options(base, self.include_default)
        self._pin_to_one_cpu()
        self._started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=None if self._passthrough else subprocess.DEVNULL,
                stdout=None if self._passthrough else subprocess.DEVNULL,
                stderr=self._stderr,
                start_new_session=True,
            )
        except OSError as error:
            raise_start_failure(self.module, command, error)
        pidfd = os.pidfd_open(self._process.pid)
        self._fds.append(pidfd)
        self._pidfd = pidfd
        reader = self._reader = _TimedFifoReader(out_fd, pidfd, self)
        reader.transcript = self._transcript
        first = reader.readline()
        if not first:
            if not self._expect_header and self._process.wait() == 0:
                return  # the advisor never ran (e.g. -O0): no header, no decisions
            self._raise_for_exit("exited before sending the log header")
        try:
            header = LogHeader.parse(first)
        except LogFormatError as error:
            self._fail(ChannelProtocolError, str(error))
        if header.advice is None:
            self._fail(ChannelProtocolError, "log header names no advice tensor")
        self.header = header
        self._advice_format = _advice_encoder(header.advice.struct_format)
        self._parser = RecordParser(reader, header)

    def __iter__(self) -> Iterator[Observation]:
        parser, reader = self._parser, self._reader
        while parser is not None and reader is not None:
            try:
                observation = parser.next_observation()
            except LogFormatError as error:
                if reader.exited:
                    self._raise_for_exit(f"stream ended mid-record ({error})")
                self._fail(ChannelProtocolError, str(error))
            if observation is None:
                return
            yield observation

    def advise(self, value) -> None:
        """Answer the current observation with `value` (a scalar of the advice's type).

        Raises `CompilerTimeout` when the compiler leaves the advice unread past
        the per-read limit, `CompilerCrash` or `ChannelProtocolError` when it exits instead.
        """
        data = self._advice_format(value)
        try:
            written = os.write(self._in_fd, data)
        except BlockingIOError:
            written = 0
        if written < len(data):
            self._write_slowly(memoryview(data)[written:])
        self.decisions += 1

    def run(self, policy: Callable[[Observation], object]) -> CompileOutcome:
        """Answer every decision with `policy(observation)`, then wait for the compiler."""
        advise = self.advise
        for observation in self:
            advise(policy(observation))
        return self.finish()

    def finish(self) -> CompileOutcome:
        """Wait for the compiler to exit; raises `CompilerFailure` unless it succeeded."""
        remaining = self.timeout - (time.monotonic() - self._started)
        try:
            returncode = self._compiler().wait(timeout=max(remaining, 0.001))
        except subprocess.TimeoutExpired:
            self.on_timeout()
        if returncode != 0:
            self._raise_for_exit("compiler failed")
        return CompileOutcome(returncode, time.monotonic() - self._started, self.decisions, self.stderr_tail())

    @property
    def pid(self) -> int | None:
        """The compiler's process id (also its process group), once started."""
        return None if self._process is None else self._process.pid

    def read_wait_seconds(self) -> float:
        """How long the next FIFO read may wait: the per-read limit within the wall limit."""
        remaining = self.timeout - (time.monotonic() - self._started)
        return max(min(self.read_timeout, remaining), 0.0)

    def on_timeout(self) -> NoReturn:
        elapsed = time.monotonic() - self._started
        self._kill()
        which = "wall" if elapsed >= self.timeout else "per-read"
        limit = self.timeout if which == "wall" else self.read_timeout
        self._fail(CompilerTimeout, f"compiler timed out ({which} limit {limit:g} s, after {elapsed:.1f} s); killed")

    def stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(size - STDERR_TAIL_BYTES, 0))
        return self._stderr.read().decode("utf-8", "replace")

    def _write_slowly(self, data: memoryview) -> None:
        """Write the rest of an advice into a full FIFO, waiting for room within the read deadlines."""
        waiter = select.poll()
        waiter.register(self._in_fd, select.POLLOUT)
        waiter.register(self._pidfd, select.POLLIN)
        while data:
            events = waiter.poll(self.read_wait_seconds() * 1000)
            if not events:
                self.on_timeout()
            if any(fd == self._pidfd for fd, _ in events):
                self._raise_for_exit("exited without reading the advice")
            try:
                data = data[os.write(self._in_fd, data) :]
            except BlockingIOError:
                continue

    def _raise_for_exit(self, what: str) -> NoReturn:
        try:
            returncode = self._compiler().wait(timeout=max(self.read_wait_seconds(), 0.001))
        except subprocess.TimeoutExpired:
            self.on_timeout()
        if returncode == 0:
            self._fail(ChannelProtocolError, f"{what}, although the compiler exited with status 0", 0)
        reason = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
        self._fail(CompilerCrash, f"{what}: {reason}", returncode)

    def _compiler(self) -> subprocess.Popen:
        if self._process is None:
            raise MlgoError(f"{self.module}: the compiler has not been started")
        return self._process

    def _fail(self, kind: type[CompilerFailure], reason: str, returncode: int | None = None) -> NoReturn:
        raise kind(self.module, reason, returncode, self.stderr_tail())

    def _kill(self) -> None:
        process = self._process
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def _pin_to_one_cpu(self) -> None:
        """Pin this thread (and so the compiler it starts) to one CPU; `cpu=False` leaves both free."""
        if self._cpu is False or self._cpu is None:
            return
        allowed = os.sched_getaffinity(0)
        cpu = _current_cpu() if self._cpu is True else int(self._cpu)
        if cpu not in allowed or len(allowed) == 1:
            return
        self._saved_affinity = allowed
        os.sched_setaffinity(0, {cpu})

    def _cleanup(self) -> None:
        self._kill()
        if self._saved_affinity is not None:
            os.sched_setaffinity(0, self._saved_affinity)
            self._saved_affinity = None
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        for stream in (self._stderr, self._transcript):
            if stream is not None:
                stream.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _current_cpu() -> int:
    """The CPU this thread last ran on (field 39 of /proc/thread-self/stat), or -1."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return -1


def _no_decision_pending(value: object) -> bytes:
    raise MlgoError("no decision is pending: the compiler sent no log header")


def _advice_encoder(struct_format: str) -> Callable[[Any], bytes]:
    packer = struct.Struct(struct_format)
    if len(struct_format) == 2:
        return lambda value: packer.pack(value)
    return lambda value: packer.pack(*value)
