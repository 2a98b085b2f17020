"""The Textual application: which project is open, navigation, and the central error handler.

Owns the open project's UI-thread `Store`, the screen stack (projects → entities → entity → ...),
the global bindings, the command palette's sources and the single place where failures of
workers and library calls become notifications or modals. Screens own their own content.
"""

from __future__ import annotations

from functools import partial
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .commands import ProjectCommands
from .messages import ProjectOpened
from .screens import STAGE_TITLES, STAGES


class SdftApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "sdft-local"
    COMMANDS = App.COMMANDS | {ProjectCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("f1,question_mark", "help", "Help"),
    ]

    def __init__(self, project: str | None = None, *, graphics: str = "halfcell"):
        super().__init__()
        self.requested_project = project
        self.graphics = graphics  # "halfcell" or "auto" (terminal image protocol, see widgets/photo)
        self.store = None

    def on_mount(self) -> None:
        from .screens.projects import ProjectsScreen

        self.push_screen(ProjectsScreen())
        self._open_initial_project()

    def _open_initial_project(self) -> None:
        from sdft_local.errors import SdftError
        from sdft_local.store import current_project

        name = self.requested_project or current_project()
        if not name:
            return
        try:
            self.open_project(name)
        except SdftError as err:
            self.report_error(err)

    # -- the open project -------------------------------------------------------------------------

    def open_project(self, name: str) -> None:
        """Open project `name`, make it the current one (as `sdft init` does) and show it."""
        from sdft_local.store import Store, set_current_project

        store = Store.open(name)
        if self.store is not None:
            self.store.close()
        self.store = store
        set_current_project(store.project.name)
        self.sub_title = f"{store.project.name} · {store.project.base_model}"
        self.post_message(ProjectOpened(store.project.name))
        self.show_entities()

    def fresh_store(self):
        """A new connection to the open project, for a worker thread (the caller closes it)."""
        from sdft_local.store import Store

        return Store(self.store.root)

    # -- navigation -------------------------------------------------------------------------------

    def show_entities(self) -> None:
        from .screens.entities import EntitiesScreen

        # The stack is: Textual's default screen, projects, entities, then deeper screens.
        while len(self.screen_stack) > 3:
            self.pop_screen()
        if isinstance(self.screen, EntitiesScreen):
            self.screen.reload()
        else:
            self.push_screen(EntitiesScreen())

    def show_entity(self, name: str) -> None:
        from .screens.entity import EntityScreen

        self.push_screen(EntityScreen(name))

    def show_add_photos(self, entity: str) -> None:
        from .screens.add_photos import AddPhotosScreen

        self.push_screen(AddPhotosScreen(entity))

    def action_stage(self, name: str) -> None:
        """Open a stage screen of the open project: dialogues, train, check, export or chat."""
        import importlib

        if self.store is None:
            self.notify("Open a project first.", severity="warning")
            return
        module, cls = STAGES[name]
        self.show_entities()
        self.push_screen(getattr(importlib.import_module(module), cls)())

    async def action_quit(self) -> None:
        """q / ctrl+q: quit, but ask first while a task (training, synthesis, ...) is running."""
        from .screens.confirm import ConfirmScreen
        from .screens.stage import StageScreen

        running = [s for s in self.screen_stack if isinstance(s, StageScreen) and s.running]
        if not running:
            self.exit()
            return
        self.push_screen(ConfirmScreen("A task is still running. Quit anyway?",
                                       "It is stopped; training keeps a checkpoint to resume from."),
                         lambda yes: yes and self._stop_and_exit(running))

    def _stop_and_exit(self, screens) -> None:
        for screen in screens:
            screen.action_stop()
        self.exit()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "How sdft-local works and its keys", self.action_help)
        yield SystemCommand("Projects", "List, create or open projects", self.action_show_projects)
        if self.store is not None:
            for name, (title, help_text) in STAGE_TITLES.items():
                yield SystemCommand(title, help_text, partial(self.action_stage, name))

    def action_show_projects(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    # -- errors -----------------------------------------------------------------------------------

    def report_error(self, error: BaseException) -> None:
        """The one place failures reach the user: library errors as notifications, others as a modal."""
        from sdft_local.errors import SdftError

        if isinstance(error, SdftError):
            from .wording import in_app_words

            self.notify(in_app_words(error.message), title=error.title, severity="error", timeout=12,
                        markup=False)
            return
        from .screens.error import ErrorScreen

        self.push_screen(ErrorScreen(error))


def make_app(project: str | None = None, *, graphics: str = "halfcell") -> SdftApp:
    return SdftApp(project, graphics=graphics)


def run(project: str | None = None) -> int:
    """Open the terminal app on `project` (default: the current project); returns the exit code."""
    from .widgets.photo import detect_graphics

    # textual-image must query the terminal before Textual takes over stdin.
    app = make_app(project, graphics=detect_graphics())
    app.run()
    return app.return_code or 0
