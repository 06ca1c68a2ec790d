"""The embedded broker: Kombu's filesystem transport, with every file appearing whole.

Kombu's transport lets a process read a file another is still writing, and JSON that is not all
there stops the reader ("Unrecoverable error: JSONDecodeError", celery/kombu#1551). A quick start
stopped so, its worker first and then everything, within minutes of starting on a busy machine.
Two places:

- A message: `_put` creates its file, then locks and writes it, while a consumer moves files out of
  the folder without taking the lock. Here a message is written in `incoming/` under the name it
  keeps, then renamed into the queue folder: a consumer sees no file, or a whole one.
- An exchange's table of queues, when the first process binds a queue to it: Kombu creates the file
  empty, then locks it, so a process publishing (or binding) at that moment reads nothing. Here the
  file is made whole, holding an empty table (`embedded.write_once`), and Kombu's own locked update
  then adds the queue.

Whole files cannot leave a message that is not JSON any more, but a file put in the folder by other
hands still could; the worker passes over it with a warning rather than stop.

A worker takes a message by renaming it into `processed/`, beside the queue, then reads and removes it.
Kombu moved it to the machine's temporary folder instead: on another file system (a tmpfs /tmp) that is
a copy, which two workers can both make; where that folder was full, the worker passed over every
message for good, and where it was missing, it stopped.
"""
import logging
import os
import uuid
from contextlib import suppress
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from .embedded import BROKER_INCOMING, write_once

log = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _queue_bind(self, exchange, routing_key, pattern, queue):
        table = self._exchange_file(exchange)
        if not table.exists():
            write_once(table, b"[]", mode=0o666)  # less the umask, as Kombu's own open() makes it
        super()._queue_bind(exchange, routing_key, pattern, queue)

    def _put(self, queue, payload, **kwargs):
        # Kombu's name: milliseconds first, so that a sorted listing is the order messages were sent in.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        # Written in incoming/: beside the queue files, on the same file system (a rename cannot cross one),
        # and read by no queue, since a consumer takes only names of the form <time>_<id>.<queue>.msg.
        staged = os.path.join(self.data_folder_out, BROKER_INCOMING, name)
        try:
            with open(staged, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(staged, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with suppress(OSError):
                os.unlink(staged)  # what a full disk left half written
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _get(self, queue):
        while True:
            try:
                return self._take(queue)
            except ValueError as error:  # not JSON, or not UTF-8: `_take` has removed the file by then
                log.warning("A message in the broker's folder for queue %s was not one Skillport sent (%s); "
                            "passed over.", queue, error)

    def _take(self, queue):
        """The oldest message of `queue` (Kombu's names sort by when they were sent), claimed by a rename
        that only one worker can win."""
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another worker took it first
            except OSError as exc:
                raise ChannelError(f"Cannot take file {name!r} from the queue: {exc.strerror}") from exc
            try:
                with open(claimed, "rb") as file:
                    payload = file.read()
            finally:
                with suppress(OSError):
                    os.unlink(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
