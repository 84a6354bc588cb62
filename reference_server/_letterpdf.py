"""The printed letter: a signed transfer letter as a PDF in the familiar 介绍信 layout.

One A4 page in three parts cut apart along dashed lines, each naming the letter number: the
stub (存根) the sending organisation keeps, the letter (介绍信) the member carries, and the
receipt (回执) the receiving organisation sends back. The letter part carries a QR code that
holds the whole signed letter (:func:`tongxin.federation.letter_qr_text`), so a receiving county
checks the paper offline with ``tongxin verify-letter``; every printed field comes from the
signed letter, and one that was altered on paper no longer agrees with what the code verifies.

Libraries: fpdf2 writes the PDF and embeds only the glyphs used (a subset of Noto Serif CJK SC
from Debian's ``fonts-noto-cjk``, found at its Debian path at run time); segno makes the QR code,
drawn as vector squares. Without the fonts the hub answers 503 ``letter-fonts-missing``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import segno
from fpdf import FPDF
from fpdf.enums import Align, WrapMode

from tongxin.federation import letter_qr_text
from tongxin.schemas import codelist, problems

from ._errors import ServiceUnavailable
from ._hub import Hub
from ._security import Principal
from ._transfers import read_letter

__all__ = ["FONT_DIR", "letter_pdf", "render_letter"]

#: Where Debian's ``fonts-noto-cjk`` installs the OpenType collections.
FONT_DIR = Path("/usr/share/fonts/opentype/noto")
_FONTS = {"": "NotoSerifCJK-Regular.ttc", "B": "NotoSerifCJK-Bold.ttc"}
#: The Simplified Chinese face in each collection (JP, KR, SC, TC, HK).
_SC_FACE = 2
_TITLE = "中国共产党党员组织关系介绍信"
_FULL_WIDTH = 180.0  # A4 less 15 mm margins
_PAGE_BOTTOM = 285.0  # A4 less the 12 mm margin


def _fonts(font_dir: Path) -> dict[str, Path]:
    paths = {style: font_dir / name for style, name in _FONTS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ServiceUnavailable(
            problems.LETTER_FONTS_MISSING,
            f"this hub cannot print letters: the Noto CJK fonts are missing ({', '.join(missing)});"
            " install Debian's fonts-noto-cjk",
            "本枢纽无法打印介绍信：缺少思源中文字体，请管理员安装中文字体软件包；"
            "电子介绍信文件仍可下载",
        )
    return paths


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _period(value: str | None) -> str:
    if value is None:
        return "（未载明）"
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    return f"{match[1]}年{int(match[2])}月" if match else value


def _title(list_name: str, code: str) -> str:
    try:
        return codelist(list_name).title(code)[0]
    except KeyError:
        return code


def _name(party: dict[str, Any]) -> str:
    return str(party.get("organisationName") or party["organisationId"])


class _Page:
    """The page being written, with the few moves the layout needs."""

    def __init__(self, fonts: dict[str, Path], number: str, issued_at: datetime) -> None:
        pdf = FPDF(format="A4", unit="mm")
        pdf.set_margins(15, 12, 15)
        pdf.set_auto_page_break(True, margin=12)
        for style, path in fonts.items():
            pdf.add_font("serif", style, path, collection_font_number=_SC_FACE)
        pdf.set_title(f"{_TITLE} 第 {number} 号")
        pdf.set_creator("同心 Tongxin")
        pdf.set_creation_date(issued_at)
        pdf.add_page()
        self.pdf = pdf
        self.number = number

    def heading(self, suffix: str) -> None:
        pdf = self.pdf
        pdf.set_font("serif", "B", 16)
        pdf.cell(_FULL_WIDTH, 9, _TITLE + suffix, align=Align.C, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("serif", "", 10.5)
        pdf.cell(
            _FULL_WIDTH, 6, f"第 {self.number} 号", align=Align.R, new_x="LMARGIN", new_y="NEXT"
        )

    def text(
        self, body: str, *, size: float = 12, align: Align = Align.L, width: float = 0
    ) -> None:
        pdf = self.pdf
        pdf.set_font("serif", "", size)
        pdf.multi_cell(
            width or _FULL_WIDTH, size * 0.62, body, align=align, wrapmode=WrapMode.CHAR,
            new_x="LMARGIN", new_y="NEXT",
        )  # fmt: skip

    def room(self, y: float, height: float) -> float:
        """``y``, or the top of a new page when ``height`` mm no longer fit below it (only
        names near the standard's 200 characters push a letter onto a second page)."""
        if y + height <= _PAGE_BOTTOM:
            return y
        self.pdf.add_page()
        return self.pdf.get_y()

    def cut(self, nominal: float, below: float) -> None:
        """A dashed cut line at ``nominal`` mm (lower when the part above runs longer) with the
        letter number across it (骑缝), when ``below`` mm still fit under it."""
        pdf = self.pdf
        y = max(pdf.get_y() + 4, nominal)
        if y + below > _PAGE_BOTTOM:
            pdf.add_page()
            return
        pdf.set_draw_color(120)
        pdf.set_dash_pattern(dash=2, gap=1.5)
        pdf.line(15, y, 195, y)
        pdf.set_dash_pattern()
        pdf.set_font("serif", "", 9)
        label = f" 第 {self.number} 号 "
        width = pdf.get_string_width(label) + 2
        pdf.set_fill_color(255)
        pdf.set_xy(105 - width / 2, y - 2.5)
        pdf.cell(width, 5, label, align=Align.C, fill=True)
        pdf.set_xy(15, y + 6)

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        """``text`` as a QR code (level M, 4-module quiet zone), drawn as vector squares."""
        code = segno.make(text, error="m", micro=False)
        rows = [list(r) for r in code.matrix]
        module = size / (len(rows) + 8)
        self.pdf.set_fill_color(0)
        for r, row in enumerate(rows):
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                self.pdf.rect(
                    x + (4 + start) * module, y + (4 + r) * module,
                    (c - start) * module + 0.01, module + 0.01, style="F",
                )  # fmt: skip


def render_letter(
    envelope: dict[str, Any],
    *,
    keys_url: str | None = None,
    letter_url: str | None = None,
    font_dir: Path = FONT_DIR,
) -> bytes:
    """The PDF of a signed letter envelope (stub, letter with its QR code, receipt)."""
    fonts = _fonts(font_dir)
    letter = envelope["letter"]
    member = letter["member"]
    number = str(letter["letterNumber"])
    issued = date.fromisoformat(letter["issuedDate"])
    last = issued + timedelta(days=int(letter["validDays"]) - 1)
    sender, receiver = _name(letter["from"]), _name(letter["to"])
    who = (
        f"{member['name']}同志（{_title('gender', member['gender'])}，"
        f"{_day(date.fromisoformat(member['birthDate']))}出生，"
        + (f"公民身份号码 {member['citizenIdMasked']}，" if member.get("citizenIdMasked") else "")
        + f"{_title('member-category', member['category'])}）"
    )
    dues = _period(letter.get("duesPaidUntil"))
    validity = f"有效期 {letter['validDays']} 天（至 {_day(last)}止）"
    page = _Page(fonts, number, datetime.fromisoformat(letter["issuedAt"]))
    pdf = page.pdf

    # 存根: what the sending organisation keeps.
    page.heading("（存根）")
    page.text(f"{who}，组织关系由 {sender} 转到 {receiver}。")
    page.text(
        f"转接原因：{_title('transfer-reason', letter['reason'])}　　党费交到：{dues}　　{validity}"
    )
    page.text(f"开具日期：{_day(issued)}　　签发枢纽：{letter['issuer']['hubId']}", size=10.5)
    page.cut(78, 70)

    # 介绍信: what the member carries, with the QR code that proves it.
    page.heading("")
    pdf.ln(1)
    page.text(f"{receiver}：")
    page.text(f"　　兹介绍{who}，组织关系由 {sender} 转到 {receiver}，请接洽。")
    page.text(f"　　该同志党费已交到 {dues}。")
    page.text(f"　　转接原因：{_title('transfer-reason', letter['reason'])}。")
    top = page.room(max(pdf.get_y() + 4, 150), 56)
    qr_text = letter_qr_text(envelope, keys_url=keys_url, letter_url=letter_url)
    page.qr(qr_text, 15, top - 3, 52)
    pdf.set_y(top + 6)
    for line, size in ((sender, 12.0), ("（盖章）", 12.0), (_day(issued), 12.0), (validity, 10.5)):
        pdf.set_x(72)
        page.text(line, size=size, align=Align.R, width=123)
    pdf.set_xy(15, max(pdf.get_y() + 2, top + 49))
    page.text(
        "扫描二维码，用“tongxin verify-letter”对照签发枢纽的公钥指纹离线核验；"
        f"签名密钥 {letter['issuer']['kid']}。",
        size=8.5,
    )
    page.cut(212, 62)

    # 回执: what the receiving organisation sends back.
    page.heading("回执")
    page.text(f"{sender}：")
    page.text(f"　　{member['name']}同志的党员组织关系已转达我处，特此回执。")
    pdf.ln(8)
    page.text("接收党组织（盖章）", align=Align.R)
    page.text("年　　月　　日", align=Align.R)
    return bytes(pdf.output())


def letter_pdf(hub: Hub, transfer_id: str, principal: Principal) -> bytes:
    """The printed letter of a transfer this hub keeps (404 ``letter-unknown`` as for the
    letter file; 503 ``letter-fonts-missing`` without the fonts)."""
    envelope: dict[str, Any] = orjson.loads(read_letter(hub, transfer_id, principal))
    base = (hub.settings.public_url or "").rstrip("/")
    issuer = envelope["letter"]["issuer"]["hubId"]
    return render_letter(
        envelope,
        keys_url=f"{base}/.well-known/tongxin/keys"
        if base and issuer == hub.settings.hub_id
        else None,
        letter_url=f"{base}/v1/transfers/{transfer_id}/letter" if base else None,
    )
