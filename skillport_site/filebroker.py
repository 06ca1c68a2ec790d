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
  file is made whole (an empty table) and linked into place first, and Kombu's own locked update
  then adds the queue.
"""
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

from .embedded import BROKER_INCOMING


class Channel(filesystem.Channel):
    def _queue_bind(self, exchange, routing_key, pattern, queue):
        table = self._exchange_file(exchange)
        if not table.exists():
            staged = self._staged(f"{uuid.uuid4()}.exchange", b"[]")
            try:
                os.link(staged, table)  # unlike a rename, never replaces a table another process made first
            except FileExistsError:
                pass
            finally:
                os.unlink(staged)
        super()._queue_bind(exchange, routing_key, pattern, queue)

    def _put(self, queue, payload, **kwargs):
        # Kombu's name: milliseconds first, so that a sorted listing is the order messages were sent in.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        try:
            os.replace(self._staged(name, str_to_bytes(dumps(payload))), os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _staged(self, name, content: bytes) -> str:
        """`content` written whole in `incoming/`: beside the queue files and the tables, on the same file
        system (a rename or a link cannot cross one). No queue reads it: a consumer takes only names of
        the form <time>_<id>.<queue>.msg, and tables are read in the control folder."""
        path = os.path.join(self.data_folder_out, BROKER_INCOMING, name)
        with open(path, "wb") as file:
            file.write(content)
        return path


class Transport(filesystem.Transport):
    Channel = Channel
