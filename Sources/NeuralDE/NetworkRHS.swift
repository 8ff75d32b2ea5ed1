// A feed-forward network as the right-hand side of an ODE, du/dt = NN(u; p): the parameters of
// the problem are the network's flat parameter vector.

public import DiffEqCore
public import NeuralNetworks
public import Sensitivity

/// A ``Chain`` used directly as an ODE right-hand side, `f(u, p, t) = chain(u; p)` (autonomous):
///
/// ```swift
/// let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
/// let f = try NetworkRHS(chain)
/// let prob = ODEProblem(model: f, u0: [2, 0], tspan: (0, 1.5), p: chain.initialParameters(seed: 0))
/// ```
///
/// The adjoint methods take `λᵀ∂f/∂u` and `λᵀ∂f/∂p` from the chain's hand-written pullback
/// (``ODEModelWithVJP``: one forward and one pullback through BLAS, no tape). The generic
/// ``rhs(_:_:_:_:)`` runs the chain's instructions in any scalar arithmetic: plain loops for
/// `Double` (at these widths faster than a BLAS call), dual numbers for forward-mode methods and
/// stiff Jacobians, the tape for reference checks. Layers without a form in that arithmetic
/// (custom elementwise functions, the exact GELU, which needs `erf`) are refused at `init`.
public struct NetworkRHS: ODEModelWithVJP, Sendable {
    public let chain: Chain<Double>
    @usableFromInline let program: [NetworkInstruction]
    @usableFromInline let slotStarts: [Int]
    @usableFromInline let totalWidth: Int

    public init(_ chain: Chain<Double>) throws(NeuralDEError) {
        guard chain.inputCount == chain.outputCount else {
            throw .unsupportedNetwork(
                "its input has \(chain.inputCount) entries and its output \(chain.outputCount); a right-hand side maps a state to a state of the same size"
            )
        }
        let program = chain.instructions
        for instruction in program {
            switch instruction {
            case .custom(_, _, _, let name):
                throw .unsupportedNetwork("the custom elementwise function '\(name)' exists only for Double")
            case .activation(_, _, _, .gelu), .dense(_, _, _, _, .gelu, _, _):
                throw .unsupportedNetwork("the exact GELU needs erf, which dual numbers lack; use .geluTanh")
            default: continue
            }
        }
        self.chain = chain
        self.program = program
        var starts: [Int] = []
        var total = 0
        for w in chain.slotSizes {
            starts.append(total)
            total += w
        }
        slotStarts = starts
        totalWidth = total
    }

    @inlinable public var isAutonomous: Bool { true }

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = chain.inputCount
        // Sizes are the caller's contract (the solvers pass the problem's); anything else gives
        // NaN, which the solvers report as an unstable solve.
        guard u.count == n, du.count == n, p.count == chain.parameterCount else {
            for i in du.indices { du[i] = S(Double.nan) }
            return
        }
        withUnsafeTemporaryAllocation(of: S.self, capacity: totalWidth) { slots in
            let v = slots.baseAddress!
            v.initialize(repeating: S.zero, count: totalWidth)
            u.withUnsafeBufferPointer { u in for i in 0..<n { v[i] = u[i] } }
            p.withUnsafeBufferPointer { p in _run(v, p) }
            let out = v + slotStarts[slotStarts.count - 1]
            du.withUnsafeMutableBufferPointer { d in for i in 0..<n { d[i] = out[i] } }
            v.deinitialize(count: totalWidth)
        }
    }

    /// The instructions on slots laid out one after another from `v`.
    @inlinable
    func _run<S: DiffEqScalar>(_ v: UnsafeMutablePointer<S>, _ p: UnsafeBufferPointer<S>) {
        for instruction in program {
            switch instruction {
            case .dense(let input, let output, let m, let k, let activation, let w, let b):
                let x = v + slotStarts[input]
                let y = v + slotStarts[output]
                for i in 0..<k { y[i] = b.map { p[$0 + i] } ?? S.zero }
                // Column-major W: column j scales x_j (the order BLAS's gemv sums in).
                for j in 0..<m {
                    let xj = x[j]
                    for i in 0..<k { y[i] += p[w + i + j * k] * xj }
                }
                if activation != .identity { for i in 0..<k { y[i] = _activate(activation, y[i]) } }
            case .activation(let input, let output, let count, let activation):
                let x = v + slotStarts[input], y = v + slotStarts[output]
                for i in 0..<count { y[i] = _activate(activation, x[i]) }
            case .power(let input, let output, let count, let e):
                let x = v + slotStarts[input], y = v + slotStarts[output]
                for i in 0..<count {
                    var r: S = 1
                    for _ in 0..<e { r *= x[i] }
                    y[i] = r
                }
            case .add(let a, let b, let output, let count):
                let xa = v + slotStarts[a], xb = v + slotStarts[b], y = v + slotStarts[output]
                for i in 0..<count { y[i] = xa[i] + xb[i] }
            case .place(let input, let output, let count, let rowOffset, _):
                let x = v + slotStarts[input], y = v + slotStarts[output]
                for i in 0..<count { y[rowOffset + i] = x[i] }
            case .custom:
                // Refused at init.
                continue
            }
        }
    }

    // MARK: The hand-written products

    /// The chain's workspace and an output buffer, one per gradient.
    public struct VJPWorkspace {
        @usableFromInline var network: NetworkWorkspace<Double>
        @usableFromInline var output: [Double]
    }

    public func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> VJPWorkspace {
        VJPWorkspace(network: chain.makeWorkspace(), output: [Double](repeating: 0, count: chain.outputCount))
    }

    /// One forward pass (to store the activations the pullback reads) and one pullback, both
    /// through BLAS; `t` is not used.
    @inlinable
    public func vjp(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>
    ) {
        do {
            try workspace.output.withUnsafeMutableBufferPointer { (y) throws(NetworkError) in
                try chain.forward(u, parameters: p, workspace: &workspace.network, into: y)
            }
            try chain.pullback(
                v, parameters: p, workspace: &workspace.network, inputGradient: du, parameterGradient: dp)
        } catch {
            // Only on sizes other than the problem's (the adjoints pass the problem's): NaN
            // stops the backward solve with a message.
            du.update(repeating: .nan)
            dp.update(repeating: .nan)
        }
    }
}

/// An ``Activation`` in any scalar arithmetic, in the same overflow-free forms as the
/// NeuralNetworks module's (GELU excepted: refused by ``NetworkRHS/init(_:)``).
@inlinable
func _activate<S: DiffEqScalar>(_ a: Activation, _ x: S) -> S {
    switch a {
    case .identity: return x
    case .tanh: return tanh(x)
    case .relu: return x > S.zero ? x : S.zero
    case .sigmoid: return _logistic(x)
    case .softplus: return (x > S.zero ? x : S.zero) + log1p(exp(-abs(x)))
    case .elu(let alpha): return x > S.zero ? x : S(alpha) * expm1(x)
    case .swish: return x * _logistic(x)
    case .geluTanh:
        let inner = S(0.797_884_560_802_865_4) * (x + S(0.044715) * x * x * x)
        return x * (1 + tanh(inner)) / 2
    case .gelu: return S(Double.nan)
    }
}

@inlinable
func _logistic<S: DiffEqScalar>(_ x: S) -> S {
    if x >= S.zero { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
}
