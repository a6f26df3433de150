"""Show results per reveal and per drop: what is recorded while the show runs, its store port,
and the report (JSON and CSV) compiled from the log, the sales and the drops."""
