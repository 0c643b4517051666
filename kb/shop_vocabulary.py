"""A built-in shop-floor vocabulary: the words Whisper is told about when an organisation has
entered no glossary of its own (and after its own terms when it has).

Why it exists: the multilingual Whisper base model hears the sounds of Japanese shop talk well but
spells its craft words as everyday words or kana (旋盤 -> 専番, 溶接 -> 要設, 金型 -> かながた).  A
fresh install has an empty glossary, so without a default list the recogniser gets no help at all
(issue 12: default-settings CER).  The setting ``asr_default_vocabulary`` turns it off.

How it was written (honesty of the measurement): from general knowledge of Japanese machining,
welding, sheet-metal, woodworking, maintenance and safety language, before and without opening
the techniques question sets or their spoken transcripts.  The only words taken from elsewhere
are 金型 and 予熱, named in the issue's analysis as misheard examples (both are core shop words
that would be on any such list).  It is not tuned on any benchmark.

Order matters: Whisper's prompt window holds about 224 tokens (media.asr keeps what fits), so
:func:`ranked` puts the words that match the recording's technique, tags or title first, then the
rest of the trades those words belong to, then everything else in list order; within a trade the
commonest words come first, and the cross-trade section leads.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# trade -> words, commonest first.  Written forms as a Japanese workshop writes them.
TRADES: dict[str, tuple[str, ...]] = {
    "共通": (
        "作業",
        "加工",
        "工具",
        "治具",
        "段取り",
        "寸法",
        "精度",
        "公差",
        "図面",
        "材料",
        "母材",
        "鋼材",
        "ステンレス",
        "アルミ",
        "鋳鉄",
        "真鍮",
        "仕上げ",
        "面取り",
        "バリ",
        "摩耗",
        "点検",
        "測定",
        "ノギス",
        "マイクロメータ",
        "ダイヤルゲージ",
        "熟練",
        "職人",
        "技能",
        "不良",
        "品質",
    ),
    "機械加工": (
        "旋盤",
        "フライス盤",
        "ボール盤",
        "研削盤",
        "マシニングセンタ",
        "主軸",
        "心押し台",
        "チャック",
        "刃物台",
        "バイト",
        "エンドミル",
        "ドリル",
        "タップ",
        "リーマ",
        "切削",
        "切削油",
        "切り込み",
        "送り",
        "回転数",
        "びびり",
        "刃先",
        "芯出し",
        "振れ",
        "荒削り",
        "ねじ切り",
        "穴あけ",
        "切粉",
        "砥石",
        "研削",
        "面粗さ",
        "工作物",
        "ワーク",
    ),
    "溶接": (
        "溶接",
        "TIG溶接",
        "MIG溶接",
        "アーク溶接",
        "半自動溶接",
        "溶接棒",
        "溶加棒",
        "トーチ",
        "シールドガス",
        "アルゴン",
        "ビード",
        "溶け込み",
        "ひずみ",
        "予熱",
        "後熱",
        "開先",
        "仮付け",
        "スパッタ",
        "ブローホール",
        "アンダーカット",
        "溶接電流",
        "タングステン電極",
    ),
    "板金・プレス・熱処理": (
        "金型",
        "プレス",
        "板金",
        "曲げ",
        "抜き",
        "絞り",
        "スプリングバック",
        "鋳造",
        "鍛造",
        "熱処理",
        "焼入れ",
        "焼戻し",
        "焼なまし",
        "硬度",
        "冷却",
    ),
    "木工": (
        "鉋",
        "鑿",
        "鋸",
        "墨付け",
        "墨壺",
        "差し金",
        "ほぞ",
        "ほぞ穴",
        "継手",
        "仕口",
        "木目",
        "逆目",
        "刃研ぎ",
        "仕込み",
        "木材",
        "乾燥",
        "接着",
    ),
    "保全・組立": (
        "締め付け",
        "トルク",
        "ボルト",
        "ナット",
        "潤滑",
        "給油",
        "ベアリング",
        "油圧",
        "空圧",
        "異音",
        "芯ずれ",
        "調整",
    ),
    "安全": (
        "安全",
        "保護具",
        "保護メガネ",
        "手袋",
        "巻き込まれ",
        "指差し確認",
        "始業点検",
        "非常停止",
        "危険予知",
        "ヒヤリハット",
        "整理整頓",
        "換気",
        "火花",
        "防塵マスク",
        "耳栓",
    ),
}


def terms() -> list[str]:
    """Every word once, in list order (cross-trade words first)."""
    return list(dict.fromkeys(t for words in TRADES.values() for t in words))


def ranked(technique: str | None = None, tags: Sequence[str] = (), title: str | None = None) -> list[str]:
    """The vocabulary for one recording, most relevant first (see the module docstring).

    The same matching as the glossary's (kb.glossary.hotwords_for): a word matches a context when
    one contains the other; contexts are the technique, then the tags, then the title."""
    contexts = [unicodedata.normalize("NFC", c or "").lower() for c in (technique, " ".join(tags or ()), title)]

    def level(word: str) -> int:
        w = word.lower()
        for n, context in enumerate(contexts):
            if context and (w in context or context in w):
                return n
        return len(contexts)

    words = terms()
    direct = sorted((w for w in words if level(w) < len(contexts)), key=lambda w: (level(w), words.index(w)))
    trades = [trade for trade, ws in TRADES.items() if any(w in direct for w in ws)]
    related = [w for trade in trades for w in TRADES[trade] if w not in direct]
    return list(dict.fromkeys([*direct, *related, *words]))
