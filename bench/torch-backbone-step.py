"""The PyTorch side of `npm run bench:train` (a reference, never an emseg dependency).

One SGD step of the benchmark backbone that bench/train-step.bench.ts trains: ResNet-18-style
BasicBlocks with widths 32-64-128-256, training-mode BatchNorm, a grey 512 x 512 image, batch 1, loss
mean(y^2). Prints one JSON object with the median and fastest step (ms) for the given threads. Run
with Debian's /usr/bin/python3 (python3-torch, libopenblas0-pthread).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def block(ci: int, co: int, stride: int) -> nn.Module:
    class Basic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(ci, co, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(co)
            self.c2 = nn.Conv2d(co, co, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(co)
            self.down = None
            if stride != 1 or ci != co:
                self.down = nn.Sequential(nn.Conv2d(ci, co, 1, stride, 0, bias=False), nn.BatchNorm2d(co))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(y + (self.down(x) if self.down is not None else x))

    return Basic()


def backbone() -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(1, 32, 7, 2, 3, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    ci = 32
    for s, w in enumerate([32, 64, 128, 256]):
        layers += [block(ci, w, 1 if s == 0 else 2), block(w, w, 1)]
        ci = w
    return nn.Sequential(*layers)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=21)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = backbone().train()
    x = torch.randn(1, 1, 512, 512)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)

    def step() -> float:
        t = time.perf_counter()
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()
        return (time.perf_counter() - t) * 1000

    for _ in range(3):
        step()
    times = sorted(step() for _ in range(a.steps))
    with torch.no_grad():
        fwd = []
        for _ in range(5):
            t = time.perf_counter()
            net(x)
            fwd.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"threads": a.threads, "step_ms_median": round(statistics.median(times)), "step_ms_min": round(times[0]), "forward_ms": round(min(fwd))}))


if __name__ == "__main__":
    main()
