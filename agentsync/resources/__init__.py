"""One module per managed kind: what a definition holds, how it is identified, how it is normalised."""
