"""The licence terms of the models Meshmill can run, as their publishers state them (a leaf: plain data).

The tables of backends, upscalers and background removers point at these; ``inference.licences``
decides from them, and from the studio's setting, whether a model may be used. This reflects the
licences as published when they were entered; it is not legal advice.
"""

from __future__ import annotations

from dataclasses import dataclass

#: two-letter codes of the territories licences name; "EU" stands for every member state
TERRITORIES = ("EU", "UK", "KR", "US", "CN", "JP", "OTHER")


@dataclass(frozen=True)
class Licence:
    name: str
    #: commercial use allowed: True, False, or None where it depends on what the model server runs
    commercial: bool | None
    excluded_territories: frozenset[str] = frozenset()
    #: the weights are only downloadable after accepting terms on the hub (the model's own or a part it pulls)
    gated: bool = False
    conditions: str = ""
    url: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "licence": self.name,
            "commercial": self.commercial,
            "excluded_territories": sorted(self.excluded_territories),
            "gated": self.gated,
            "conditions": self.conditions,
            "url": self.url,
        }


MESHMILL = Licence("Apache-2.0 (Meshmill's own, no weights)", True)


def _tencent_hunyuan_3d(version: str, repo: str) -> Licence:
    """Tencent's Hunyuan 3D community licences: the same terms for each release, each its own text."""
    return Licence(
        f"Tencent Hunyuan 3D {version} Community License",
        True,
        frozenset({"EU", "UK", "KR"}),
        conditions="above 1 M monthly active users a licence from Tencent is needed",
        url=f"https://huggingface.co/tencent/{repo}/blob/main/LICENSE",
    )


TENCENT_HUNYUAN_3D_2 = _tencent_hunyuan_3d("2.0", "Hunyuan3D-2")
TENCENT_HUNYUAN_3D_2_1 = _tencent_hunyuan_3d("2.1", "Hunyuan3D-2.1")
MIT_SHAP_E = Licence("MIT", True, url="https://github.com/openai/shap-e/blob/main/LICENSE")
MIT_TRELLIS = Licence(
    "MIT (code and weights)",
    True,
    conditions="its image encoder is DINOv2 (Apache-2.0)",
    url="https://github.com/microsoft/TRELLIS/blob/main/LICENSE",
)
MIT_TRELLIS_2 = Licence(
    "MIT (code and weights)",
    True,
    gated=True,
    conditions="its image encoder, DINOv3, is gated: accept Meta's DINOv3 License on the hub (it allows commercial use on its terms)",
    url="https://github.com/microsoft/TRELLIS.2/blob/main/LICENSE",
)
MIT_DIRECT3D_S2 = Licence("MIT", True, url="https://github.com/DreamTechAI/Direct3D-S2/blob/main/LICENSE")
SERVER_DEFINED = Licence(
    "whatever the model server runs",
    None,
    conditions="Meshmill cannot know which model the server runs: use a named backend where the licence must be checked",
)
BSD_REAL_ESRGAN = Licence("BSD-3-Clause", True, url="https://github.com/xinntao/Real-ESRGAN/blob/master/LICENSE")
OPENRAIL_SD_X4 = Licence(
    "CreativeML Open RAIL++-M",
    True,
    conditions="use restrictions of the licence's attachment A pass on to users of its output",
    url="https://huggingface.co/stabilityai/stable-diffusion-x4-upscaler/blob/main/LICENSE.md",
)
APACHE_U2NET = Licence("Apache-2.0", True, url="https://github.com/xuebinqin/U-2-Net/blob/master/LICENSE")
APACHE_DIS = Licence("Apache-2.0", True, url="https://github.com/xuebinqin/DIS/blob/main/LICENSE.md")
MIT_BIREFNET = Licence("MIT", True, url="https://github.com/ZhengPeng7/BiRefNet/blob/main/LICENSE")
UNSTATED = Licence("not stated by its publisher", None, conditions="no licence found for the weights; ask their publisher")
