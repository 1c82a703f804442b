"""The pipeline mnist_mlp.py is measured against: MNIST the way the classic tutorial does it.

Same network (784-86-86-10, ReLU, log-softmax), same optimiser (Adam, lr 1e-3), same three epochs,
but the tutorial's data path: torchvision's MNIST with a per-image ToTensor transform, so every
image becomes a PIL image and then a tensor again, every epoch, in batches of 10. Like mnist_mlp.py
it then tests on the 10,000 test images and saves a plot of one test digit with its prediction.

Used by compare_tutorial.py; run alone as:
    python benchmarks/tutorial_style.py --data-dir ../shared/mnist --plot /tmp/tutorial.png
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")  # a benchmark never opens a window
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import datasets, transforms


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 86)
        self.fc2 = nn.Linear(86, 86)
        self.fc3 = nn.Linear(86, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA", "data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="tutorial_prediction.png")
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    to_tensor = transforms.Compose([transforms.ToTensor()])
    train = datasets.MNIST(args.data_dir, train=True, download=False, transform=to_tensor)
    test = datasets.MNIST(args.data_dir, train=False, download=False, transform=to_tensor)
    trainset = torch.utils.data.DataLoader(train, batch_size=10, shuffle=True)
    testset = torch.utils.data.DataLoader(test, batch_size=10, shuffle=True)

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for epoch in range(3):
        start = time.perf_counter()
        for X, y in trainset:
            net.zero_grad()
            output = net(X.view(-1, 28 * 28))
            loss = F.nll_loss(output, y)
            loss.backward()
            optimizer.step()
        print(f"Epoch {epoch + 1}: loss {loss.item():.4f}, {time.perf_counter() - start:.1f} s")

    correct = total = 0
    with torch.no_grad():
        for X, y in testset:
            output = net(X.view(-1, 28 * 28))
            correct += (output.argmax(dim=1) == y).sum().item()
            total += len(y)
    print(f"Test accuracy: {100 * correct / total:.2f}% ({correct}/{total})")

    plt.imshow(X[0].view(28, 28), cmap="gray")
    plt.title(f"prediction {net(X[0].view(-1, 28 * 28)).argmax().item()}")
    plt.savefig(args.plot)


if __name__ == "__main__":
    main()
