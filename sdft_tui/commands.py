"""Command palette source: jump to any project, entity or add-photos screen by typing its name.

Reads names from the store on each search (cheap SQLite reads); does nothing itself but navigate.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ProjectCommands(Provider):
    def _commands(self) -> list[tuple[str, object, str]]:
        from sdft_local.store import list_projects

        app = self.app
        out = [(f"Open project {name}", partial(app.open_project, name), "switch to this project")
               for name in list_projects()]
        if app.store is not None:
            out.append(("Add entity", self._add_entity, "a new thing to teach the model"))
            for ent in app.store.entities():
                out.append((f"Entity {ent.name}", partial(app.show_entity, ent.name),
                             f"facts and photos of this {ent.kind}"))
                out.append((f"Add photos to {ent.name}", partial(app.show_add_photos, ent.name),
                             "files or folders"))
        return out

    def _add_entity(self) -> None:
        self.app.show_entities()
        self.app.call_after_refresh(self.app.screen.run_action, "add_entity")

    async def discover(self) -> Hits:
        for text, callback, help_text in self._commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)
