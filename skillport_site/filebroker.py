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
"""
import logging
import os
import uuid
from contextlib import suppress
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

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
                return super()._get(queue)
            except ValueError as error:  # not JSON, or not UTF-8: Kombu has removed the file by then
                log.warning("A message in the broker's folder for queue %s was not one Skillport sent (%s); "
                            "passed over.", queue, error)


class Transport(filesystem.Transport):
    Channel = Channel
