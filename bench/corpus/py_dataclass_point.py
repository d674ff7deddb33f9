from dataclasses import dataclass
import math


@dataclass
class Point:
    x: float
    y: float

    def distance_to(self, other: "Point") -> float:
        return math.hypot(self.x - other.x, self.y - other.y)


def perimeter(points: list[Point]) -> float:
    total = 0.0
    for a, b in zip(points, points[1:] + points[:1]):
        total += a.distance_to(
