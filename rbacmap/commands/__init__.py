"""Click commands: parse options, call the library, format the answer. No analysis here."""
