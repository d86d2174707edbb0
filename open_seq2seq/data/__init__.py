from .data_layer import DataLayer
from .speech2text.speech2text import Speech2TextDataLayer
