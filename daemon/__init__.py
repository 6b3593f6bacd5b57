"""zedonk-ordre: keep ORDRE in step with a catalogue in git; import its orders into Zedonk."""

__version__ = "0.1.0"

# Where the project is published; replace <owner> when it is. The install line, the pre-commit
# hook and the workflow that `init` writes all point here, at the tag of this version.
PROJECT_URL = "https://github.com/<owner>/zedonk-ordre"
RELEASE_TAG = f"v{__version__}"
# Everything: the remote clients, the daemon, the history and the sandbox. The base install
# (what the pre-commit hook gets) has what validate, init and schemas need.
INSTALL_REQUIREMENT = f"zedonk-ordre[all] @ git+{PROJECT_URL}@{RELEASE_TAG}"
