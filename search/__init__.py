"""Hybrid search: lexical and dense indexes, fusion, the relevance bar, the searcher (search.engine).

``MODES`` lives here, not in search.engine, so the CLI's options and the API's
parameter check can name the modes without loading numpy or the index.
"""

MODES = ("hybrid", "lexical", "dense")  # fused (the default), word matching only, embeddings only
