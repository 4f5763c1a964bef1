"""askbot: answer questions from a folder of documents, with the sentence and its source."""

__version__ = "0.1.0"
