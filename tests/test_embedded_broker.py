"""The broker `make run` uses when no CELERY_BROKER_URL is set: files in the data directory, each one whole.

Kombu's own filesystem transport let a worker take a message its sender was still writing; the worker
read nothing, stopped on a JSONDecodeError, and a quick start stopped with it (skillport_site/filebroker.py).
"""
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile

from kombu import Connection

from skillport_site import embedded

SENDERS, EACH, PAD = 2, 100, 300_000


def send(url, options, sender, go):
    go.wait()
    with Connection(url, transport=embedded.BROKER_TRANSPORT, transport_options=options) as connection:
        queue = connection.SimpleQueue("tasks")
        for number in range(EACH):
            queue.put({"sender": sender, "number": number, "pad": "x" * PAD})


def take(url, options, go, taken):
    """Every message the senders send, in the order each sent them, or the first error."""
    got = []
    go.wait()
    with Connection(url, transport=embedded.BROKER_TRANSPORT, transport_options=options) as connection:
        queue = connection.SimpleQueue("tasks")
        try:
            while len(got) < SENDERS * EACH:
                message = queue.get(block=True, timeout=20)
                got.append((message.payload["sender"], message.payload["number"], len(message.payload["pad"])))
                message.ack()
        except Exception as error:  # what the subprocess saw goes back to the test, which fails with it
            taken.put(repr(error))
            return
    taken.put(got)


def test_a_worker_never_takes_a_message_still_being_written(tmp_path):
    """Two processes send large messages into a broker folder no one has used (so they and the worker also
    make its exchange table together) while a worker polls as fast as it can: Kombu's transport lost a
    quarter to three quarters of them this way, each a JSONDecodeError."""
    url, options = embedded.broker_url(tmp_path)
    options["polling_interval"] = 0.001  # Celery polls every second; this makes the race likely, not rare
    spawn = multiprocessing.get_context("spawn")
    go, taken = spawn.Event(), spawn.Queue()
    processes = [spawn.Process(target=send, args=(url, options, sender, go)) for sender in range(SENDERS)]
    processes.append(spawn.Process(target=take, args=(url, options, go, taken)))
    for process in processes:
        process.start()
    go.set()
    got = taken.get(timeout=120)
    for process in processes:
        process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0] * (SENDERS + 1)
    assert not isinstance(got, str), got
    for sender in range(SENDERS):
        assert [(number, size) for who, number, size in got if who == sender] == [(n, PAD) for n in range(EACH)]
    assert sorted(os.listdir(tmp_path / "broker" / embedded.BROKER_INCOMING)) == []  # nothing left half-made


def test_celery_sends_through_it_when_no_broker_is_configured(tmp_path):
    """With no CELERY_BROKER_URL, the web process and the worker (Celery's own connections) use this transport."""
    env = {**os.environ, "SKILLPORT_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "skillport_site.settings"}
    env.pop("CELERY_BROKER_URL", None)
    script = (
        "import django; django.setup()\n"
        "from skillport_site.celery import app\n"
        "with app.connection_for_write() as connection:\n"
        "    print(type(connection.transport).__module__)\n"
        "app.send_task('marketplace.tasks.reap_lost_syncs')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["skillport_site.filebroker"]
    sent = [name for name in os.listdir(tmp_path / "broker") if name.endswith(".celery.msg")]
    assert len(sent) == 1
    message = json.loads((tmp_path / "broker" / sent[0]).read_text())
    assert message["headers"]["task"] == "marketplace.tasks.reap_lost_syncs"


def test_a_file_that_cannot_be_written_whole_leaves_nothing_behind(tmp_path):
    """A full disk (here, a limit on the size of any file this process writes): the message fails to send with
    Kombu's error, the secret key is not made, and no half-written copy is left to find."""
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from kombu import Connection\n"
        "from kombu.exceptions import ChannelError\n"
        "from skillport_site import embedded\n"
        "data = Path(sys.argv[1])\n"
        "url, options = embedded.broker_url(data)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "with Connection(url, transport=embedded.BROKER_TRANSPORT, transport_options=options) as connection:\n"
        "    queue = connection.SimpleQueue('tasks')\n"
        "    queue.put({'small': 1})\n"
        "    try:\n"
        "        queue.put({'pad': 'x' * 100_000})\n"
        "    except ChannelError as error:\n"
        "        print('refused:', error)\n"
        "try:\n"
        "    embedded.write_once(data / 'secret_key', b'k' * 100_000)\n"
        "except OSError as error:\n"
        "    print('not written:', error.strerror)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refused: Cannot add file" in done.stdout and "not written: File too large" in done.stdout
    broker = tmp_path / "broker"
    assert len([name for name in os.listdir(broker) if name.endswith(".tasks.msg")]) == 1  # the small one
    assert os.listdir(broker / embedded.BROKER_INCOMING) == []
    assert sorted(os.listdir(tmp_path)) == ["broker"]  # no key, and no staged copy of one


def test_a_file_no_sender_wrote_is_passed_over(tmp_path, caplog):
    """Something put in the broker's folder by other hands, named like a message: the worker takes the next
    real message instead of stopping, and says so."""
    url, options = embedded.broker_url(tmp_path)
    with Connection(url, transport=embedded.BROKER_TRANSPORT, transport_options=options) as connection:
        queue = connection.SimpleQueue("tasks")
        # Named to sort before any message Kombu names (milliseconds since boot, then "_"), whatever
        # the machine's uptime, so the worker meets them first.
        (tmp_path / "broker" / "0_not-sent.tasks.msg").write_bytes(b"\xff{ not json")
        (tmp_path / "broker" / "00_not-sent.tasks.msg").write_text("")
        queue.put({"number": 1})
        message = queue.get(block=True, timeout=10)
        assert message.payload == {"number": 1}
        message.ack()
    assert [name for name in os.listdir(tmp_path / "broker") if name.endswith(".msg")] == []
    assert caplog.text.count("was not one Skillport sent") == 2


def test_a_worker_takes_messages_within_the_brokers_folder(tmp_path, monkeypatch):
    """Kombu moved each message it took to the machine's temporary folder: a copy where that is another
    file system (two workers could both take it); where that folder was full, every message was passed
    over for good, and where it was missing (as here), the worker stopped."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    url, options = embedded.broker_url(tmp_path / "data")
    with Connection(url, transport=embedded.BROKER_TRANSPORT, transport_options=options) as connection:
        # A queue of its own: Kombu keeps which exchanges it bound in the process, not in the folder.
        queue = connection.SimpleQueue("taken")
        for number in range(3):
            queue.put({"number": number})
        taken = []
        for _ in range(3):
            message = queue.get(block=True, timeout=10)
            taken.append(message.payload["number"])
            message.ack()
    assert sorted(taken) == [0, 1, 2]  # sent within a millisecond, so in no order (Kombu names them by it)
    broker = tmp_path / "data" / "broker"
    assert [name for name in os.listdir(broker) if name.endswith(".msg")] == os.listdir(broker / "processed") == []
    assert not (tmp_path / "no-such-folder").exists()
