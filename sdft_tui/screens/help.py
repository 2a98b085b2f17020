"""The help screen: the workflow in one page and the keys that matter everywhere."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Markdown

from .base import SdftModal

HELP = """\
# sdft-local

Teach a vision-language model about your own things (a pet, a person, a mug) on this machine,
with **Structured Dialogue Fine-Tuning** (Hong et al., arXiv 2505.00029), without making it worse
at everything else.

## The path
1. **Project** — pick or create one; it fixes the base model.
2. **Entities** — add what the model should learn: a name, a kind, a few facts.
3. **Photos** — 5 to 20 per entity. About a third are *held out* automatically: the check
   tests on them, training never sees them.
4. **Dialogues** (`d`) — every training photo becomes three-turn dialogues: the base model's own
   caption (weight 0.2), a negative answer (0.3), the entity answer (0.5). Review, edit, reject.
5. **Train** (`t`) — a LoRA adapter with live loss per turn; stop any time, resume later.
6. **Check** (`c`) — knowledge on held-out photos and retention on general probes; a gate says
   pass, warn or fail, with reasons.
7. **Export** (`e`) — MLX, PEFT, merged, GGUF, Ollama; each loaded back and verified.
8. **Try it** (`y`) — the base and the tuned model answer about a photo, side by side.

## Keys
| key | where | what |
|---|---|---|
| `ctrl+p` | everywhere | command palette: jump to any project, entity or screen |
| `F1` / `?` | everywhere | this help |
| `Enter` | lists | open the highlighted row |
| `a` / `p` | entities | add an entity / add photos to the highlighted one |
| `e` | entity | edit kind and facts |
| `d` `t` `c` `e` `y` | project | dialogues, train, check, export, try it |
| `ctrl+s` | forms, stages | save / start (`ctrl+r` resumes a training run) |
| `s` `e` `x` `r` `b` | dialogues | synthesize, edit a turn, reject/restore, regenerate, backend |
| `x` / `Delete` | lists | remove the highlighted row (asks first) |
| `Tab` | path fields | complete the path |
| `Escape` | everywhere | stop what runs (after the current step), else back |
| `q` / `ctrl+q` | everywhere | quit |

The same work can be done from the `sdft` command line, also while this app is open.
"""


class HelpScreen(SdftModal[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help-dialog"):
            yield Markdown(HELP)
        yield Footer()
