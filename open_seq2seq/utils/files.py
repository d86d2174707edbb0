"""Input files that must be regular files: opening a FIFO waits for a writer forever and a device such as
/dev/zero never ends, so every text or data input is checked before it is opened."""
import os
import stat


def refuse_special_file(path):
  """Raises ValueError naming ``path`` unless it is a regular file (or a link to one); OSError when ``path``
  does not exist."""
  mode = os.stat(path).st_mode
  if not stat.S_ISREG(mode):
    kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
    raise ValueError("{}: {}, expected a regular file".format(path, kind))
