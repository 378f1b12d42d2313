"""A leak test's settings, as the marks, the decorator and ``check`` take them. Imports nothing
heavy: the pytest plugin reads marks with it in every run."""

from typing import Any, Dict, Optional


class Settings:
    """A leak test's settings; ``None`` leaves the engine's default (300 iterations, a detected
    warm-up, extension up to 10x while Inconclusive)."""

    KEYS = ("iterations", "warmup", "max_iterations", "resources")

    def __init__(
        self,
        iterations: Optional[int] = None,
        warmup: Optional[int] = None,
        max_iterations: Optional[int] = None,
        resources: bool = True,
    ) -> None:
        for key, value in (
            ("iterations", iterations),
            ("warmup", warmup),
            ("max_iterations", max_iterations),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError("leak_test(%s=...) must be an int, not %r" % (key, value))
        self.iterations = iterations
        self.warmup = warmup
        self.max_iterations = max_iterations
        self.resources = bool(resources)

    @classmethod
    def from_kwargs(cls, where: str, kwargs: Dict[str, Any]) -> "Settings":
        """Settings from keyword arguments; an unknown one is a ``TypeError`` naming ``where``."""
        unknown = sorted(set(kwargs) - set(cls.KEYS))
        if unknown:
            raise TypeError(
                "%s: unknown argument %s (expected %s)"
                % (where, ", ".join(unknown), ", ".join(cls.KEYS))
            )
        return cls(**kwargs)
