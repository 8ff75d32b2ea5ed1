// A feed-forward network as the right-hand side of an ODE, du/dt = NN(u; p): the parameters of
// the problem are the network's flat parameter vector.

public import DiffEqCore
public import NeuralNetworks
public import Sensitivity

/// The scalars of a network that can be an ODE right-hand side: `Double` and `Float`.
///
/// The ODE's state, parameters, solves and adjoints are in `Double` whatever the network's scalar
/// (the Sensitivity module's `Float` gradients are computed in `Double`, for the reason given
/// there); a `Float` network's weights are promoted exactly, so it is the same function as the
/// `Double` network with those weights.
///
/// Its products `vᵀ∂f/∂u`, `vᵀ∂f/∂p` are computed in `Double` too, by a pullback of the chain's
/// instructions (``NetworkRHS/_programVJP(_:u:p:v:du:dp:)``), not by the chain's own `Float`
/// pullback: products rounded to `Float` make the backward right-hand side noisy at the 1e-7
/// level, and an adaptive backward solve asked for tighter tolerances than that cannot meet
/// them (measured: the quadrature adjoint of a spiral network at reltol 1e-10 stopped at
/// `maxiters` with single-precision BLAS products).
///
/// The products are requirements here, not generic code of ``NetworkRHS``, so that each runs
/// specialized for its scalar: the adjoints reach a model's products through its protocol
/// witness, which for the generic `NetworkRHS<Scalar>` is generic code, and the instructions'
/// pullback compiled that way ran on witness tables (16.4M instructions per spiral gradient
/// against 7.6M; callgrind, neural-bench --malloc-gradients).
public protocol NeuralDEScalar: NetworkScalar {
    /// The products of ``NetworkRHS/vjp(_:u:p:t:v:du:dp:)`` on `Double` buffers.
    static func _networkVJP(
        _ rhs: NetworkRHS<Self>, _ workspace: inout NetworkRHS<Self>.VJPWorkspace, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
        dp: UnsafeMutableBufferPointer<Double>) throws(NetworkError)
    /// `vᵀ∂f/∂u` alone (``NetworkRHS/stateVJP(_:u:p:t:v:du:)``).
    static func _networkStateVJP(
        _ rhs: NetworkRHS<Self>, _ workspace: inout NetworkRHS<Self>.VJPWorkspace, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>
    ) throws(NetworkError)
    /// ``NetworkRHS/rhs(_:keeping:u:p:t:du:)``.
    static func _networkKeptRHS(
        _ rhs: NetworkRHS<Self>, _ workspace: inout NetworkRHS<Self>.VJPWorkspace, slot: Int,
        u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>)
    /// ``NetworkRHS/vjp(_:kept:u:p:t:v:du:dp:)``.
    static func _networkKeptVJP(
        _ rhs: NetworkRHS<Self>, _ workspace: inout NetworkRHS<Self>.VJPWorkspace, slot: Int,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
        dp: UnsafeMutableBufferPointer<Double>)
}

/// The kept evaluations and their products run the instructions in `Double` for both scalars
/// (the witness for a concrete scalar specializes these, as for the products above).
extension NeuralDEScalar {
    @inlinable
    public static func _networkKeptRHS(
        _ rhs: NetworkRHS<Self>, _ workspace: inout NetworkRHS<Self>.VJPWorkspace, slot: Int,
        u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>
    ) {
        rhs._keptRHS(&workspace, slot: slot, u: u, p: p, du: du)
    }

    @inlinable
    public static func _networkKeptVJP(
        _ rhs: NetworkRHS<Self>, _ workspace: inout NetworkRHS<Self>.VJPWorkspace, slot: Int,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
        dp: UnsafeMutableBufferPointer<Double>
    ) {
        rhs._keptVJP(&workspace, slot: slot, p: p, v: v, du: du, dp: dp)
    }
}

extension Double: NeuralDEScalar {
    /// The chain's own forward pass and pullback through BLAS.
    @inlinable
    public static func _networkVJP(
        _ rhs: NetworkRHS<Double>, _ workspace: inout NetworkRHS<Double>.VJPWorkspace, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
        dp: UnsafeMutableBufferPointer<Double>
    ) throws(NetworkError) {
        let chain = rhs.chain
        try workspace.output.withUnsafeMutableBufferPointer { (y) throws(NetworkError) in
            try chain.forward(u, parameters: p, workspace: &workspace.network, into: y)
        }
        try chain.pullback(v, parameters: p, workspace: &workspace.network, inputGradient: du, parameterGradient: dp)
    }

    @inlinable
    public static func _networkStateVJP(
        _ rhs: NetworkRHS<Double>, _ workspace: inout NetworkRHS<Double>.VJPWorkspace, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>
    ) throws(NetworkError) {
        try rhs._programVJP(&workspace, u: u, p: p, v: v, du: du, dp: nil)
    }
}

extension Float: NeuralDEScalar {
    /// The pullback of the chain's instructions in `Double` (see ``NeuralDEScalar``).
    @inlinable
    public static func _networkVJP(
        _ rhs: NetworkRHS<Float>, _ workspace: inout NetworkRHS<Float>.VJPWorkspace, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
        dp: UnsafeMutableBufferPointer<Double>
    ) throws(NetworkError) {
        try rhs._programVJP(&workspace, u: u, p: p, v: v, du: du, dp: dp)
    }

    @inlinable
    public static func _networkStateVJP(
        _ rhs: NetworkRHS<Float>, _ workspace: inout NetworkRHS<Float>.VJPWorkspace, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>
    ) throws(NetworkError) {
        try rhs._programVJP(&workspace, u: u, p: p, v: v, du: du, dp: nil)
    }
}

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
///
/// A `Float` network (`NetworkRHS<Float>`) is the same right-hand side on `Double` states and
/// parameters (its generic evaluation runs in the solver's arithmetic); its products run in
/// `Float` (``NeuralDEScalar``).
public struct NetworkRHS<Scalar: NeuralDEScalar>: ODEModelWithVJP, Sendable {
    public let chain: Chain<Scalar>
    @usableFromInline let program: [NetworkInstruction]
    @usableFromInline let slotStarts: [Int]
    @usableFromInline let totalWidth: Int

    public init(_ chain: Chain<Scalar>) throws(NeuralDEError) {
        guard chain.inputCount == chain.outputCount else {
            throw .unsupportedNetwork(
                "its input has \(chain.inputCount) entries and its output \(chain.outputCount); a right-hand side maps a state to a state of the same size"
            )
        }
        try self.init(anyShape: chain)
    }

    /// The chain's instructions for ``_run(_:_:preactivations:activate:)`` whatever its input and
    /// output sizes (a delay network reads more inputs than it returns: ``NeuralCDDE``); only
    /// ``init(_:)``'s networks are right-hand sides.
    @usableFromInline
    init(anyShape chain: Chain<Scalar>) throws(NeuralDEError) {
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
        (slotStarts, totalWidth) = chain.slotOffsets
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
        // The slots, then room for the pre-activations (activations from one buffer into
        // another: in place, the vectorised tanh's overlap check sent it to its scalar loop).
        withUnsafeTemporaryAllocation(of: S.self, capacity: 2 * totalWidth) { slots in
            let v = slots.baseAddress!
            v.initialize(repeating: S.zero, count: 2 * totalWidth)
            u.withUnsafeBufferPointer { u in for i in 0..<n { v[i] = u[i] } }
            p.withUnsafeBufferPointer { p in
                _run(v, p, preactivations: v + totalWidth, activate: _activate(_:_:_:count:))
            }
            let out = v + slotStarts[slotStarts.count - 1]
            du.withUnsafeMutableBufferPointer { d in for i in 0..<n { d[i] = out[i] } }
            v.deinitialize(count: 2 * totalWidth)
        }
    }

    /// The instructions on slots laid out one after another from `v`; with `preactivations`,
    /// each dense layer's `Wx + b` goes there, at its output slot's offset (for the pullback),
    /// and its activation from there into the slot. `activate(a, x, y, k)` evaluates the
    /// activation `a` of `k` values from `x` into `y` (`y` may be `x`): ``_activate(_:_:_:count:)``
    /// in the solver's arithmetic, NeuralNetworks' own in the `Double` products.
    @inlinable
    func _run<S: DiffEqScalar>(
        _ v: UnsafeMutablePointer<S>, _ p: UnsafeBufferPointer<S>, preactivations: UnsafeMutablePointer<S>? = nil,
        activate: (Activation, UnsafePointer<S>, UnsafeMutablePointer<S>, Int) -> Void
    ) {
        for instruction in program {
            switch instruction {
            case .dense(let input, let output, let m, let k, let activation, let w, let b):
                let x = v + slotStarts[input]
                let y = preactivations.map { $0 + slotStarts[output] } ?? v + slotStarts[output]
                let weights = p.baseAddress! + w
                // y_i = b_i + W_i0 x_0 + W_i1 x_1 + … in that order (column-major W: the order of
                // BLAS's gemv). With more inputs than outputs, row by row with the sum in a
                // register (a 50-to-2 layer: two sums of 50 terms rather than 50 passes over two
                // outputs); else column by column (inner loops over the outputs). Same values.
                if m > k {
                    for i in 0..<k {
                        var sum = b.map { p[$0 + i] } ?? S.zero
                        for j in 0..<m { sum += weights[i + j * k] * x[j] }
                        y[i] = sum
                    }
                } else {
                    if let b { for i in 0..<k { y[i] = p[b + i] } } else { for i in 0..<k { y[i] = S.zero } }
                    for j in 0..<m {
                        let xj = x[j], column = weights + j * k
                        for i in 0..<k { y[i] += column[i] * xj }
                    }
                }
                activate(activation, y, v + slotStarts[output], k)
            case .activation(let input, let output, let count, let activation):
                activate(activation, v + slotStarts[input], v + slotStarts[output], count)
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

    /// The chain's workspace and an output buffer for the BLAS products, and the slots, the
    /// dense layers' pre-activations and the adjoints of the instructions' pullback; made once
    /// per gradient context.
    public struct VJPWorkspace {
        @usableFromInline var network: NetworkWorkspace<Scalar>
        @usableFromInline var output: [Scalar]
        @usableFromInline var values: [Double]
        @usableFromInline var preactivations: [Double]
        @usableFromInline var adjoints: [Double]
        /// The slots and pre-activations of kept evaluations (``rhs(_:keeping:u:p:t:du:)``),
        /// `2 · totalWidth` per slot, grown on a slot's first use.
        @usableFromInline var kept: [Double] = []
    }

    public func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> VJPWorkspace {
        let slots = [Double](repeating: 0, count: totalWidth)
        return VJPWorkspace(
            network: chain.makeWorkspace(), output: [Scalar](repeating: 0, count: chain.outputCount), values: slots,
            preactivations: slots, adjoints: slots)
    }

    /// `vᵀ∂f/∂u` into `du` and `vᵀ∂f/∂p` into `dp` by one forward pass of the instructions in
    /// `Double` (keeping each dense layer's pre-activation) and one reverse pass (adjoints
    /// accumulate, since a slot may be read by several instructions).
    /// `dp: nil` computes `vᵀ∂f/∂u` alone (``stateVJP(_:u:p:t:v:du:)``).
    @inlinable
    public func _programVJP(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>?
    ) throws(NetworkError) {
        let n = chain.inputCount
        guard u.count == n, v.count == n, du.count == n else {
            throw .dimensionMismatch(what: "u, v and du", expected: n, got: u.count)
        }
        guard p.count == chain.parameterCount, dp.map({ $0.count == p.count }) ?? true else {
            throw .dimensionMismatch(what: "p and dp", expected: chain.parameterCount, got: p.count)
        }
        workspace.values.withUnsafeMutableBufferPointer { values in
            workspace.preactivations.withUnsafeMutableBufferPointer { pre in
                _forwardKeeping(values.baseAddress!, pre.baseAddress!, u: u, p: p)
                workspace.adjoints.withUnsafeMutableBufferPointer { adjoints in
                    _reverse(values.baseAddress!, pre.baseAddress!, adjoints.baseAddress!, p: p, v: v, du: du, dp: dp)
                }
            }
        }
    }

    /// The instructions' forward pass from `u` in `Double` on the slots `x`, keeping each dense
    /// layer's pre-activation in `z` (NeuralNetworks' activations: ``_networkTanh(_:)`` for tanh).
    @inlinable
    func _forwardKeeping(
        _ x: UnsafeMutablePointer<Double>, _ z: UnsafeMutablePointer<Double>, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>
    ) {
        x.update(repeating: 0, count: totalWidth)
        for i in 0..<chain.inputCount { x[i] = u[i] }
        _run(x, p, preactivations: z) { a, x, y, k in a._apply(x, into: y, count: k) }
    }

    /// The reverse pass after ``_forwardKeeping(_:_:u:p:)`` on `x`, `z`: `vᵀ∂f/∂u` into `du` and,
    /// unless `nil`, `vᵀ∂f/∂p` into `dp`, with `a` (totalWidth entries) for the adjoints.
    @inlinable
    func _reverse(
        _ x: UnsafeMutablePointer<Double>, _ z: UnsafeMutablePointer<Double>, _ a: UnsafeMutablePointer<Double>,
        p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
        dp: UnsafeMutableBufferPointer<Double>?
    ) {
        let n = chain.inputCount, outputStart = slotStarts[slotStarts.count - 1]
        a.update(repeating: 0, count: totalWidth)
        for i in 0..<n { a[outputStart + i] = v[i] }
        dp?.update(repeating: 0)
        _pullback(x, z, a, p, dp)
        for i in 0..<n { du[i] = a[i] }
    }

    /// `f(u)` into `du` by the instructions in `Double`, with the slots and pre-activations kept
    /// under `slot` for ``_keptVJP(_:slot:p:v:du:dp:)``. Sizes are the problem's (the discrete
    /// adjoint passes its own buffers); the kept storage grows on a slot's first use only.
    @inlinable
    public func _keptRHS(
        _ workspace: inout VJPWorkspace, slot: Int, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>,
        du: UnsafeMutableBufferPointer<Double>
    ) {
        let width = totalWidth, end = (slot + 1) * 2 * width
        if workspace.kept.count < end {
            workspace.kept.append(contentsOf: repeatElement(0, count: end - workspace.kept.count))
        }
        let outputStart = slotStarts[slotStarts.count - 1]
        workspace.kept.withUnsafeMutableBufferPointer { kept in
            let x = kept.baseAddress! + slot * 2 * width
            _forwardKeeping(x, x + width, u: u, p: p)
            for i in 0..<chain.outputCount { du[i] = x[outputStart + i] }
        }
    }

    /// The products at slot `slot`'s kept evaluation: the reverse pass alone.
    @inlinable
    public func _keptVJP(
        _ workspace: inout VJPWorkspace, slot: Int, p: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>
    ) {
        let width = totalWidth
        workspace.kept.withUnsafeMutableBufferPointer { kept in
            workspace.adjoints.withUnsafeMutableBufferPointer { adjoints in
                let x = kept.baseAddress! + slot * 2 * width
                _reverse(x, x + width, adjoints.baseAddress!, p: p, v: v, du: du, dp: dp)
            }
        }
    }

    /// The reverse pass of the instructions from the adjoints `a` of the output slot.
    @inlinable
    func _pullback(
        _ x: UnsafeMutablePointer<Double>, _ z: UnsafeMutablePointer<Double>, _ a: UnsafeMutablePointer<Double>,
        _ p: UnsafeBufferPointer<Double>, _ dp: UnsafeMutableBufferPointer<Double>?
    ) {
        for index in stride(from: program.count - 1, through: 0, by: -1) {
            switch program[index] {
            case .dense(let input, let output, let m, let k, let activation, let w, let b):
                let xin = x + slotStarts[input], y = x + slotStarts[output]
                let zs = z + slotStarts[output], dy = a + slotStarts[output], dx = a + slotStarts[input]
                // dz = dy ⊙ act'(z), kept in dy's place (the slot is not read again).
                activation._scaleByDerivative(dy, at: zs, output: y, into: dy, count: k)
                let weights = p.baseAddress! + w
                if let dp {
                    if let b { for i in 0..<k { dp[b + i] += dy[i] } }
                    // dW_ij += dy_i x_j, the inner loop over the longer dimension.
                    let dw = dp.baseAddress! + w
                    if m > k {
                        for i in 0..<k {
                            let dyi = dy[i]
                            for j in 0..<m { dw[i + j * k] += dyi * xin[j] }
                        }
                    } else {
                        for j in 0..<m {
                            let xj = xin[j], column = dw + j * k
                            for i in 0..<k { column[i] += dy[i] * xj }
                        }
                    }
                }
                // dx_j += Σ_i W_ij dy_i: with more inputs than outputs term by term into dx (the
                // same value when dx_j starts at zero, as for a slot that one instruction reads;
                // otherwise it differs by rounding), else the sum in a register.
                if m > k {
                    for i in 0..<k {
                        let dyi = dy[i]
                        for j in 0..<m { dx[j] += weights[i + j * k] * dyi }
                    }
                } else {
                    for j in 0..<m {
                        let column = weights + j * k
                        var s = 0.0
                        for i in 0..<k { s += column[i] * dy[i] }
                        dx[j] += s
                    }
                }
            case .activation(let input, let output, let count, let activation):
                let xin = x + slotStarts[input], y = x + slotStarts[output]
                let dy = a + slotStarts[output], dx = a + slotStarts[input]
                for i in 0..<count { dx[i] += dy[i] * _derivative(activation, xin[i], y[i]) }
            case .power(let input, let output, let count, let e):
                // x⁰ is constant: nothing flows back.
                guard e > 0 else { continue }
                let xin = x + slotStarts[input], dy = a + slotStarts[output], dx = a + slotStarts[input]
                for i in 0..<count {
                    var r = Double(e)
                    for _ in 0..<(e - 1) { r *= xin[i] }
                    dx[i] += dy[i] * r
                }
            case .add(let l, let r, let output, let count):
                let dy = a + slotStarts[output], dl = a + slotStarts[l], dr = a + slotStarts[r]
                for i in 0..<count {
                    dl[i] += dy[i]
                    dr[i] += dy[i]
                }
            case .place(let input, let output, let count, let rowOffset, _):
                let dy = a + slotStarts[output], dx = a + slotStarts[input]
                for i in 0..<count { dx[i] += dy[rowOffset + i] }
            case .custom:
                // Refused at init.
                continue
            }
        }
    }

    /// One forward pass (to store the activations the pullback reads) and one pullback, both
    /// through BLAS in the network's scalar; `t` is not used.
    @inlinable
    public func vjp(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>
    ) {
        do {
            try Scalar._networkVJP(self, &workspace, u: u, p: p, v: v, du: du, dp: dp)
        } catch {
            // Only on sizes other than the problem's (the adjoints pass the problem's): NaN
            // stops the backward solve with a message.
            du.update(repeating: .nan)
            dp.update(repeating: .nan)
        }
    }

    /// `f(u, p)` by the instructions' forward pass in `Double`, with its activations kept for
    /// ``vjp(_:kept:u:p:t:v:du:dp:)`` (the discrete adjoint's stages); `t` is not used.
    @inlinable
    public func rhs(
        _ workspace: inout VJPWorkspace, keeping slot: Int, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, t: Double, du: UnsafeMutableBufferPointer<Double>
    ) -> Bool {
        guard slot >= 0, u.count == chain.inputCount, du.count == chain.outputCount, p.count == chain.parameterCount
        else { return false }
        Scalar._networkKeptRHS(self, &workspace, slot: slot, u: u, p: p, du: du)
        return true
    }

    /// The products at a kept evaluation: the pullback of the instructions alone, no second
    /// forward pass.
    @inlinable
    public func vjp(
        _ workspace: inout VJPWorkspace, kept slot: Int, u: UnsafeBufferPointer<Double>,
        p: UnsafeBufferPointer<Double>, t: Double, v: UnsafeBufferPointer<Double>,
        du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>
    ) {
        let width = 2 * totalWidth
        guard slot >= 0, (slot + 1) * width <= workspace.kept.count, v.count == chain.outputCount,
            du.count == chain.inputCount, p.count == chain.parameterCount, dp.count == p.count
        else {
            // Only on sizes other than the problem's, or a slot never kept: as in `vjp`.
            du.update(repeating: .nan)
            dp.update(repeating: .nan)
            return
        }
        Scalar._networkKeptVJP(self, &workspace, slot: slot, p: p, v: v, du: du, dp: dp)
    }

    /// `vᵀ∂f/∂u` alone, by the instructions' pullback in `Double` without its parameter part
    /// (what the quadrature adjoint's backward solve asks for at every stage).
    @inlinable
    public func stateVJP(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>
    ) -> Bool {
        do {
            try Scalar._networkStateVJP(self, &workspace, u: u, p: p, v: v, du: du)
        } catch {
            du.update(repeating: .nan)
        }
        return true
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

/// The activation of `count` values from `x` into `y` (`y` may be `x`), the case dispatched once
/// per vector (as NeuralNetworks' `Activation._apply` does).
@inlinable
func _activate<S: DiffEqScalar>(_ a: Activation, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int) {
    switch a {
    case .identity: if UnsafePointer(y) != x { y.update(from: x, count: count) }
    case .tanh:
        // In Double, the products' own tanh (NeuralNetworks' ``_networkTanh(_:into:count:)``,
        // vectorised, within 2 ulp): the forward solve, the discrete adjoint's recomputed stages
        // and the products then evaluate one function, and glibc's tanh cost 110 instructions a
        // value against about 30. Rebinding `S` to `Double` when it is `Double` is no conversion.
        if S.self == Double.self {
            x.withMemoryRebound(to: Double.self, capacity: count) { x in
                y.withMemoryRebound(to: Double.self, capacity: count) { _networkTanh(x, into: $0, count: count) }
            }
        } else {
            for i in 0..<count { y[i] = tanh(x[i]) }
        }
    default: for i in 0..<count { y[i] = _activate(a, x[i]) }
    }
}

/// The derivative of an activation at `x`, from its value `y` there for tanh and the sigmoid
/// (`1 − y²`, `y(1 − y)`), else NeuralNetworks' own derivative.
@inlinable
func _derivative(_ a: Activation, _ x: Double, _ y: Double) -> Double {
    switch a {
    case .tanh: return 1 - y * y
    case .sigmoid: return y * (1 - y)
    default: return a.derivative(x)
    }
}

@inlinable
func _logistic<S: DiffEqScalar>(_ x: S) -> S {
    if x >= S.zero { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
}
