"""One module per deployed function (functions/handlers.py): the handler is functions.entry.<group>.app."""
