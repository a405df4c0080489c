"""A first look at minigan: a gradient, a gradient of a gradient, and a check against finite differences."""
import minigan

x = minigan.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = (x.tanh() * x).sum()  # y = Σ x·tanh(x)

(dy_dx,) = minigan.grad(y, x, create_graph=True)  # dy/dx = tanh(x) + x (1 - tanh²(x))
penalty = (dy_dx ** 2).sum()                       # a scalar function of the gradient ...
penalty.backward()                                 # ... differentiated again: double backward

print("y          =", y.item())
print("dy/dx      =", dy_dx.detach().numpy())
print("d penalty/dx =", x.grad.numpy())
print("gradcheck:", minigan.gradcheck(lambda t: (t.tanh() * t).sum(), (x,)),
      " gradgradcheck:", minigan.gradgradcheck(lambda t: (t.tanh() * t).sum(), (x,)))
