from .alphabet import load_language_model
from .arpa_model import ArpaLanguageModel
from .kneser_ney import estimate_kneser_ney, write_arpa
from .text_files import read_text_lines
