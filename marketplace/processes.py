"""Running a command that may start others: git and its remote helpers, a security scanner."""
import os
import signal
import subprocess


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
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
    return proc.returncode, stdout, stderr
