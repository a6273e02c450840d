"""What a handler asks the framework for, by name: `actor: ActorDep`, `settings: SettingsDep`.

The app provides both (marketplace.app): the actor from the request's credentials
(marketplace.core.auth.dependencies), the settings read once at start-up. Marking them as named
dependencies tells Litestar they are not query parameters (its inferred style is deprecated).
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency

from marketplace.core.actor import Actor
from marketplace.settings import Settings

ActorDep: TypeAlias = NamedDependency[Actor]
SettingsDep: TypeAlias = NamedDependency[Settings]
