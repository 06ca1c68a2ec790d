"""Running a command that may start others: git and its remote helpers, a security scanner."""
import os
import signal
import subprocess
import tempfile
import threading
from contextlib import contextmanager


def run_in_session(argv, *, env, timeout, input=None, cwd=None) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, stderr) of `argv`, run in a session of its own.

    Its own session, so a timeout (or a Celery time limit) also stops the processes it started,
    which would otherwise outlive it holding the pipes. Raises subprocess.TimeoutExpired after
    `timeout` seconds, once they are all killed, and OSError when it cannot start.
    """
    with subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        finally:
            if proc.returncode is None:
                _kill(proc)
                proc.wait()
    return proc.returncode, stdout, stderr


@contextmanager
def reading_in_session(argv, *, env, timeout, cwd=None):
    """`argv` run as run_in_session runs it, its stdout yielded to be read as it is written: for output too large to
    hold. The reader stops early by raising, which stops them all.

    Raises subprocess.TimeoutExpired when it ran past `timeout` seconds, CalledProcessError (with the end of its
    stderr) when it failed, and OSError when it cannot start.
    """
    with tempfile.TemporaryFile() as errors, subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=cwd,
            start_new_session=True) as proc:
        late = threading.Event()

        def stop():
            late.set()
            _kill(proc)

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            yield proc.stdout
        except BaseException:
            _kill(proc)
            raise
        finally:
            timer.cancel()
            proc.stdout.close()
            proc.wait()
            _kill(proc)  # what it started, were it to outlive it
        if late.is_set():
            raise subprocess.TimeoutExpired(argv, timeout)
        if proc.returncode:
            errors.seek(0)
            raise subprocess.CalledProcessError(proc.returncode, argv, stderr=errors.read()[-4000:])


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
