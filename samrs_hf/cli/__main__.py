"""``python -m samrs_hf.cli`` (what ``accelerate launch -m samrs_hf.cli ...`` runs): the ``samrs`` command."""

import sys

from samrs_hf.cli import main

sys.exit(main())
