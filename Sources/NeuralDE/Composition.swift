// Reverse-mode composition of layers in which a solve is one layer (issue #16, "the solve as a
// layer inside a reverse-mode Chain"): each layer maps its input and its own slice of one flat
// parameter vector to an output, and pulls an output cotangent back to the input's and the
// parameters'. The chain rule through the sequence is the composition of the pullbacks in
// reverse order (the reverse-mode rule, as Zygote applies it to a Lux `Chain`).

public import DiffEqCore
public import NeuralNetworks
public import Sensitivity

/// One layer of a ``LayerSequence``: `y = layer(x; θ)` and the pullback of its latest forward.
///
/// Layers keep the state of their latest forward pass (workspaces, saved trajectories), so they
/// are classes and not `Sendable`: one sequence per task.
public protocol DifferentiableLayer: AnyObject {
    var inputCount: Int { get }
    var outputCount: Int { get }
    /// The length of this layer's slice of the sequence's parameters.
    var parameterCount: Int { get }
    /// `y = layer(x; θ)`, keeping what the pullback needs.
    func forward(_ x: [Double], parameters θ: [Double]) throws -> [Double]
    /// `(∂L/∂x, ∂L/∂θ)` from `∂L/∂y` at the latest forward pass.
    func pullback(_ dy: [Double]) throws -> (dx: [Double], dθ: [Double])
}

/// A ``Chain`` as a layer: its BLAS forward pass and hand-written pullback.
public final class NetworkLayer: DifferentiableLayer {
    public let chain: Chain<Double>
    @usableFromInline var workspace: NetworkWorkspace<Double>
    @usableFromInline var theta: [Double] = []

    public init(_ chain: Chain<Double>) {
        self.chain = chain
        workspace = chain.makeWorkspace()
    }

    public var inputCount: Int { chain.inputCount }
    public var outputCount: Int { chain.outputCount }
    public var parameterCount: Int { chain.parameterCount }

    public func forward(_ x: [Double], parameters θ: [Double]) throws -> [Double] {
        var y = [Double](repeating: 0, count: chain.outputCount)
        try chain.forward(x, parameters: θ, workspace: &workspace, into: &y)
        theta = θ
        return y
    }

    public func pullback(_ dy: [Double]) throws -> (dx: [Double], dθ: [Double]) {
        var dx = [Double](repeating: 0, count: chain.inputCount)
        var dθ = [Double](repeating: 0, count: chain.parameterCount)
        try chain.pullback(dy, parameters: theta, workspace: &workspace, inputGradient: &dx, parameterGradient: &dθ)
        return (dx, dθ)
    }
}

/// A solve as a layer (the seed's two forms): the input is the initial state (`x -> solve(prob,
/// u0: x)`, the layer's parameters are the ODE's `p`) or the ODE's parameters (`p ->
/// solve(prob, p: p)`, the initial state fixed, no parameters of its own). The output is every
/// saved state, one after another (`K·n` entries for `K` save times); its pullback is
/// ``SolveLayer/pullback(u0:p:cotangents:)`` by the layer's `sensealg`.
public final class ODELayer<Model: ODEModel, Algorithm: ODEAlgorithm, Method: SensitivityAlgorithm>:
    DifferentiableLayer
{
    /// What the layer's input is.
    public enum Input: Sendable {
        /// `x` is the initial state; the layer's parameters are the ODE's.
        case initialState
        /// `x` is the ODE's parameters; the initial state is the one given at `init`.
        case parameters
    }

    public let solve: SolveLayer<Model, Algorithm, Method>
    public let input: Input
    @usableFromInline let fixedU0: [Double]
    @usableFromInline var point: (u0: [Double], p: [Double])?

    /// `u0` and `p` give the sizes (and, with `.parameters`, the fixed initial state).
    public init(_ solve: SolveLayer<Model, Algorithm, Method>, input: Input, u0: [Double]) throws(NeuralDEError) {
        try _requireLength(u0, solve.stateCount, "u0")
        self.solve = solve
        self.input = input
        fixedU0 = u0
    }

    public var inputCount: Int { input == .initialState ? solve.stateCount : solve.parameterCount }
    public var outputCount: Int { solve.times.count * solve.stateCount }
    public var parameterCount: Int { input == .initialState ? solve.parameterCount : 0 }

    public func forward(_ x: [Double], parameters θ: [Double]) throws -> [Double] {
        let (u0, p) = input == .initialState ? (x, θ) : (fixedU0, x)
        let states = try solve.solve(u0: u0, p: p)
        point = (u0, p)
        return states.flatMap { $0 }
    }

    public func pullback(_ dy: [Double]) throws -> (dx: [Double], dθ: [Double]) {
        guard let point else { throw NeuralDEError.unsupportedNetwork("pullback before a forward pass") }
        let n = solve.stateCount
        try _requireLength(dy, outputCount, "dy")
        let cotangents = (0..<solve.times.count).map { k in Array(dy[(k * n)..<((k + 1) * n)]) }
        let r = try solve.pullback(u0: point.u0, p: point.p, cotangents: cotangents)
        return input == .initialState ? (r.du0, r.dp) : (r.dp, [])
    }
}

/// Layers applied one after another, their parameters one flat vector (each layer's slice in
/// order), with the reverse-mode gradient of the whole sequence:
///
/// ```swift
/// let encoder = NetworkLayer(try Chain<Double>(.dense(3, 2, .tanh)))
/// let ode = try ODELayer(try node.makeLayer(u0: [0, 0], parameters: p), input: .initialState, u0: [0, 0])
/// let model = try LayerSequence([encoder, ode])
/// let y = try model.forward(x, parameters: θ)          // θ = encoder's weights, then the ODE's p
/// let (dx, dθ) = try model.pullback(dLdy)
/// ```
public final class LayerSequence {
    public let layers: [any DifferentiableLayer]
    public let parameterCount: Int
    @usableFromInline let offsets: [Int]

    /// Throws when consecutive layers' sizes do not chain.
    public init(_ layers: [any DifferentiableLayer]) throws(NeuralDEError) {
        guard !layers.isEmpty else { throw .wrongLength(what: "layers", expected: 1, got: 0) }
        var offsets: [Int] = []
        var total = 0
        for (k, layer) in layers.enumerated() {
            if k > 0, layers[k - 1].outputCount != layer.inputCount {
                throw .wrongLength(what: "input of layer \(k)", expected: layers[k - 1].outputCount, got: layer.inputCount)
            }
            offsets.append(total)
            total += layer.parameterCount
        }
        self.layers = layers
        self.offsets = offsets
        parameterCount = total
    }

    public var inputCount: Int { layers[0].inputCount }
    public var outputCount: Int { layers[layers.count - 1].outputCount }

    public func forward(_ x: [Double], parameters θ: [Double]) throws -> [Double] {
        try _requireLength(x, inputCount, "x")
        try _requireLength(θ, parameterCount, "parameters")
        try _requireFinite(x, "x")
        try _requireFinite(θ, "parameters")
        var y = x
        for (k, layer) in layers.enumerated() {
            y = try layer.forward(y, parameters: Array(θ[offsets[k]..<(offsets[k] + layer.parameterCount)]))
        }
        return y
    }

    /// `(∂L/∂x, ∂L/∂θ)` from `∂L/∂y` at the latest forward pass.
    public func pullback(_ dy: [Double]) throws -> (dx: [Double], dθ: [Double]) {
        try _requireLength(dy, outputCount, "dy")
        try _requireFinite(dy, "dy")
        var dθ = [Double](repeating: 0, count: parameterCount)
        var d = dy
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            let (dx, dθk) = try layers[k].pullback(d)
            for j in dθk.indices { dθ[offsets[k] + j] = dθk[j] }
            d = dx
        }
        return (d, dθ)
    }
}
