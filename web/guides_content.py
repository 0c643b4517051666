"""The words of the recording guide (撮影・録音のコツ) and of the printable quick guides, per language.

Why data and not templates: the same words appear on the help page and on the printed A4
sheets (web/guides_pdf.py), and a sheet pinned beside a machine must say exactly what the
screen says.  Each guide is a title, a lead line and a list of sections (a heading and its
points); the quick guides' steps also name the screenshot (docs/screenshots/) they show.
"""

from __future__ import annotations

RECORDING_GUIDE = {
    "ja": {
        "title": "撮影・録音のコツ",
        "lead": "よく撮れた動画は、文字起こしが正確になり、検索で見つかりやすくなります。撮る前にこの6つを確かめてください。",
        "sections": [
            (
                "スマホの位置と明るさ",
                [
                    "スマホは三脚か台に固定し、手元と機械の動きが画面に入る位置に置きます。",
                    "窓や照明を背にしないで、手元を明るく。暗い場所では作業灯を当てます。",
                    "横向きで撮ると、パソコンでも大きく見られます。",
                ],
            ),
            (
                "マイクは口の近くに",
                [
                    "クリップ式やヘッドセットのマイクを使うのがいちばんです。",
                    "マイクがないときは、スマホを口から離しすぎないでください(1m以内が目安)。",
                    "機械の音がうるさいと、言葉が文字になりません。",
                ],
            ),
            (
                "説明するときは機械を止める",
                [
                    "できるときは、機械を止めてから説明し、説明が終わってから動かします。",
                    "止められないときは、大事なことを作業の前か後にもう一度言います。",
                ],
            ),
            (
                "道具・部品・材料の名前をはっきり",
                [
                    "「これ」「あれ」ではなく、「心押し台」「バイト」「SUS304」のように名前で言います。",
                    "ゆっくり、はっきり。名前が出てくれば、見習いがその言葉で探せます。",
                ],
            ),
            (
                "1本の動画に1つの工程",
                [
                    "1本は30秒から3分が目安です。長い作業は工程ごとに分けて撮ります。",
                    "最初に「これから〇〇をします」と、何の工程かを言います。",
                ],
            ),
            (
                "撮る前に用語集を確認",
                [
                    "現場の言葉(心押し台、びびり など)が用語集にあるか、コーディネーターと確かめます。",
                    "用語集にある言葉は、文字起こしで正しく書かれやすくなります。",
                    "アップロードしたあと、文字起こしの間違いはスタジオで直せます。",
                ],
            ),
        ],
        "qr_caption": "アップロードはこちら(スタジオ)",
    },
    "en": {
        "title": "Recording tips",
        "lead": "A well-recorded video gets an accurate transcript and is easy to find by search. "
        "Check these six points before you film.",
        "sections": [
            (
                "Phone position and light",
                [
                    "Fix the phone on a tripod or a stand where it sees your hands and the machine's movement.",
                    "Do not film against a window or a lamp; light your hands. Use a work lamp in dark places.",
                    "Film in landscape: it shows larger on a PC.",
                ],
            ),
            (
                "The microphone close to the mouth",
                [
                    "A clip-on or headset microphone is best.",
                    "Without one, keep the phone close to your mouth (within about 1 m).",
                    "If the machine is loud, the words do not become text.",
                ],
            ),
            (
                "Pause the machine to explain",
                [
                    "When you can, stop the machine, explain, then run it again.",
                    "When you cannot, say the important points again before or after the work.",
                ],
            ),
            (
                "Say tool, part and material names plainly",
                [
                    'Say the name — 心押し台 (tailstock), バイト (cutting tool), SUS304 — not "this" or "that".',
                    "Slowly and clearly: when the name is said, an apprentice can search for it.",
                ],
            ),
            (
                "One step per clip",
                [
                    "30 seconds to 3 minutes a clip. Film a long job step by step.",
                    'Start by saying which step it is: "Now I will …".',
                ],
            ),
            (
                "Check the glossary first",
                [
                    "Check with the coordinator that the shop-floor words (心押し台, びびり …) are in the glossary.",
                    "Words in the glossary are more likely to be transcribed correctly.",
                    "After uploading, correct any transcript mistakes in the studio.",
                ],
            ),
        ],
        "qr_caption": "Upload here (studio)",
    },
}

# Printable quick guides (Japanese, A4): five steps, each with the screenshot it shows.
QUICK_GUIDES = {
    "apprentice": {
        "title": "かんたんガイド:探して、見る(見習い向け)",
        "lead": "知りたいことを自分の言葉で入力すると、マイスターがそれを見せている場面から動画が始まります。",
        "steps": [
            (
                "ログインして「検索」を開く",
                "パソコンかスマホでアドレスを開き、配られたログインとパスワードで入ります。",
                "guide-search-home.png",
            ),
            (
                "自分の言葉で質問する",
                (
                    "「旋盤のびびりを抑えるには」のように、ふだんの言葉で入力して「検索」を押します。"
                    "ぴったりの記録がないときは「ぴったりの記録は見つかりませんでした」と出ます。その下の近い記録や「誰に教われる?」を見てください。"
                ),
                "search-desktop.png",
            ),
            (
                "場面を開いて見る",
                "結果をクリックすると、動画がその場面から字幕付きで始まります。横の文字起こしの行をクリックすると、そこへ飛びます。",
                "recording-desktop.png",
            ),
            (
                "QR コードで共有する",
                "「この場面を共有」のリンクや QR コードを仲間に送れます。「QRカードを印刷」で機械に貼るカードになります。",
                "recording-phone.png",
            ),
            (
                "「私の学習」で教程を進める",
                "割り当てられた教程が並びます。場面を見ると「視聴済み」になり、できるようになったら「完了にする」を押します。",
                "guide-learning.png",
            ),
        ],
    },
    "coordinator": {
        "title": "かんたんガイド:教程を作る(コーディネーター向け)",
        "lead": "教程は、見る順番に並べた場面の一覧です。作って、割り当てて、進み具合を追います。",
        "steps": [
            (
                "新しい教程を作る",
                "メニューの「教程」→「新しい教程」。題名と目標(「長い軸をびびりなく削れるようになる」など)を書いて作成します。",
                "guide-curriculum-new.png",
            ),
            (
                "場面を集める",
                (
                    "「場面を提案」で目標に合う場面が出てきます。要るものにチェックして「チェックした場面を追加」。"
                    "検索結果の「教程に追加」からも足せます。"
                ),
                "guide-curriculum-suggest.png",
            ),
            (
                "章に分けて並べる",
                "「章を追加」で基礎・応用などに分け、ドラッグか ↑ ↓ ボタンで順番を決めます。必須か任意かも選べます。",
                "guide-curriculum-edit.png",
            ),
            (
                "割り当てる",
                "「割り当て先」で技術者かグループを選び、期限を入れて「割り当てる」を押します。",
                "guide-curriculum-assign.png",
            ),
            (
                "進み具合を追う",
                "「技能マトリクス」で、誰がどこまで見て、どれが認定されたかが一目でわかります。CSV で Excel にも出せます。",
                "guide-curriculum-matrix.png",
            ),
        ],
    },
}
