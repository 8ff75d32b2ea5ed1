import AutoDiff
import DiffEqCore
import ExplicitRK
import NeuralDE
import NeuralNetworks
import Sensitivity
import Testing

// The network as a right-hand side: its generic evaluation against the chain's BLAS forward,
// its hand-written VJP against the reverse-mode tape and against dual numbers (two independent
// differentiations of the same generic code), and the adjoints' use of that VJP.

/// Every activation the generic path supports, in a chain that maps 2 entries to 2.
func mixedChain() throws -> Chain<Double> {
    try Chain<Double>(
        .power(3), .dense(2, 5, .tanh), .dense(5, 4, .sigmoid), .dense(4, 3, .elu), .dense(3, 4, .swish),
        .dense(4, 3, .geluTanh), .dense(3, 4, .softplus), .dense(4, 3, .relu), .dense(3, 2))
}

func relativeDistance(_ a: [Double], _ b: [Double]) -> Double {
    var d = 0.0, s = 0.0
    for (x, y) in zip(a, b) {
        d += (x - y) * (x - y)
        s += y * y
    }
    return (d / max(s, 1e-300)).squareRoot()
}

@Suite("NetworkRHS")
struct NetworkRHSTests {
    @Test func genericEvaluationMatchesBLASForward() throws {
        let chain = try mixedChain()
        let f = try NetworkRHS(chain)
        let p = chain.initialParameters(seed: 7)
        for u in [[0.3, -0.8], [1.2, 0.4], [-1.5, -0.2]] {
            var du = [0.0, 0.0]
            f.rhs(&du, u, p, 0.0)
            let y = try chain(u, parameters: p)
            #expect(relativeDistance(du, y) < 1e-14, "u = \(u): \(du) vs \(y)")
        }
    }

    @Test func handWrittenVJPMatchesTapeAndDualNumbers() throws {
        let chain = try mixedChain()
        let f = try NetworkRHS(chain)
        let p = chain.initialParameters(seed: 3)
        let u = [0.7, -1.1], v = [0.9, -0.4]
        var ws = f.makeVJPWorkspace(stateCount: 2, parameters: p)
        var du = [0.0, 0.0], dp = [Double](repeating: 0, count: p.count)
        u.withUnsafeBufferPointer { u in
            p.withUnsafeBufferPointer { pp in
                v.withUnsafeBufferPointer { v in
                    du.withUnsafeMutableBufferPointer { du in
                        dp.withUnsafeMutableBufferPointer { dp in
                            f.vjp(&ws, u: u, p: pp, t: 0, v: v, du: du, dp: dp)
                        }
                    }
                }
            }
        }
        // Reverse mode on the tape.
        let tape = RHSTape(f)
        let (tu, tp) = try tape.vjp(u: u, p: p, t: 0, v: v)
        #expect(relativeDistance(du, tu) < 1e-13)
        #expect(relativeDistance(dp, tp) < 1e-13)
        // Forward mode: the full Jacobians by dual numbers, then vᵀJ.
        let (ju, jp) = rhsJacobians(f, u: u, p: p, t: 0)
        let du2 = (0..<2).map { j in (0..<2).reduce(0.0) { $0 + v[$1] * ju[$1, j] } }
        let dp2 = (0..<p.count).map { k in (0..<2).reduce(0.0) { $0 + v[$1] * jp[$1, k] } }
        #expect(relativeDistance(du, du2) < 1e-13)
        #expect(relativeDistance(dp, dp2) < 1e-13)
    }

    /// A Float network's products (the instructions' pullback in Double) and the state-only
    /// product against the Double network's BLAS pullback at the same (promoted) weights, every
    /// activation and layer kind the right-hand side supports: the same values up to the order
    /// of the sums.
    @Test func floatNetworkProductsMatchTheDoubleNetworks() throws {
        let layers: [Layer<Float>] = [
            .power(3), .dense(2, 5, .tanh), .dense(5, 4, .sigmoid), .dense(4, 3, .elu), .dense(3, 4, .swish),
            .dense(4, 3, .geluTanh), .dense(3, 4, .softplus), .dense(4, 3, .relu), .elementwise(.tanh), .dense(3, 2),
        ]
        let layersD: [Layer<Double>] = [
            .power(3), .dense(2, 5, .tanh), .dense(5, 4, .sigmoid), .dense(4, 3, .elu), .dense(3, 4, .swish),
            .dense(4, 3, .geluTanh), .dense(3, 4, .softplus), .dense(4, 3, .relu), .elementwise(.tanh), .dense(3, 2),
        ]
        let fF = try NetworkRHS(try Chain<Float>(layers: layers))
        let fD = try NetworkRHS(try Chain<Double>(layers: layersD))
        let p = fF.chain.initialParameters(seed: 5).map(Double.init)
        var wF = fF.makeVJPWorkspace(stateCount: 2, parameters: p)
        var wD = fD.makeVJPWorkspace(stateCount: 2, parameters: p)
        for (u, v) in [([0.3, -0.8], [1.0, 0.5]), ([1.2, 0.4], [-0.7, 0.2])] {
            var duF = [0.0, 0.0], dpF = [Double](repeating: 0, count: p.count)
            var duD = duF, dpD = dpF
            u.withUnsafeBufferPointer { u in p.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { v in
                duF.withUnsafeMutableBufferPointer { du in dpF.withUnsafeMutableBufferPointer { dp in
                    fF.vjp(&wF, u: u, p: pp, t: 0, v: v, du: du, dp: dp) } }
                duD.withUnsafeMutableBufferPointer { du in dpD.withUnsafeMutableBufferPointer { dp in
                    fD.vjp(&wD, u: u, p: pp, t: 0, v: v, du: du, dp: dp) } } } } }
            #expect(relativeDistance(duF, duD) < 1e-14, "du \(relativeDistance(duF, duD))")
            #expect(relativeDistance(dpF, dpD) < 1e-14, "dp \(relativeDistance(dpF, dpD))")
            // The state-only product the quadrature adjoint's backward solve uses.
            var duS = [0.0, 0.0]
            let done = u.withUnsafeBufferPointer { u in p.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { v in
                duS.withUnsafeMutableBufferPointer { du in fD.stateVJP(&wD, u: u, p: pp, t: 0, v: v, du: du) } } } }
            #expect(done)
            #expect(relativeDistance(duS, duD) < 1e-14, "state-only du \(relativeDistance(duS, duD))")
        }
    }

    /// The adjoints call the model's own products (``ODEModelWithVJP``), once per product they
    /// report, and give the tape's gradient.
    @Test func adjointsUseTheModelsOwnVJP() throws {
        final class Counter: @unchecked Sendable { var calls = 0 }
        struct Counting: ODEModelWithVJP {
            let base: NetworkRHS<Double>
            let counter: Counter
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { base.rhs(&du, u, p, t) }
            var isAutonomous: Bool { true }
            func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> NetworkRHS<Double>.VJPWorkspace {
                base.makeVJPWorkspace(stateCount: n, parameters: p)
            }
            func vjp(
                _ w: inout NetworkRHS<Double>.VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>,
                t: Double, v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
                dp: UnsafeMutableBufferPointer<Double>
            ) {
                counter.calls += 1
                base.vjp(&w, u: u, p: p, t: t, v: v, du: du, dp: dp)
            }
        }
        /// The same network without its own products: the tape's.
        struct Plain: ODEModel {
            let base: NetworkRHS<Double>
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { base.rhs(&du, u, p, t) }
            var isAutonomous: Bool { true }
        }
        let chain = try Chain<Double>(.power(3), .dense(2, 6, .tanh), .dense(6, 2))
        let base = try NetworkRHS(chain)
        let p = chain.initialParameters(seed: 1)
        let options = SolveOptions(reltol: 1e-9, abstol: 1e-11, saveat: .every(0.25))
        let counter = Counter()
        let own = try adjointGradients(
            ODEProblem(model: Counting(base: base, counter: counter), u0: [1.5, 0], tspan: (0, 1), p: p), options)
        let tape = try adjointGradients(ODEProblem(model: Plain(base: base), u0: [1.5, 0], tspan: (0, 1), p: p), options)
        var reported = 0
        for ((name, a), (_, b)) in zip(own, tape) {
            reported += a.stats.vjps
            #expect(relativeDistance(a.dp + a.du0, b.dp + b.du0) < 1e-12, "\(name)")
        }
        #expect(counter.calls > 0 && counter.calls == reported, "\(counter.calls) calls, \(reported) reported")
    }

    @Test func refusesNetworksThatCannotBeARightHandSide() throws {
        let wide = try Chain<Double>(.dense(2, 3))
        #expect(throws: NeuralDEError.self) { try NetworkRHS(wide) }
        let custom = try Chain<Double>(
            .function("cube", { $0 * $0 * $0 }, derivative: { 3 * $0 * $0 }), .dense(2, 2))
        #expect {
            try NetworkRHS(custom)
        } throws: { error in
            if case .unsupportedNetwork(let why) = error as? NeuralDEError { return why.contains("cube") }
            return false
        }
        let gelu = try Chain<Double>(.dense(2, 3, .gelu), .dense(3, 2))
        #expect(throws: NeuralDEError.self) { try NetworkRHS(gelu) }
    }
}

/// The gradient of Σ‖u(t_k)‖² by the adjoint methods (name, result).
func adjointGradients<M: ODEModel>(_ problem: ODEProblem<GenericRHS<M, Double>>, _ options: SolveOptions) throws
    -> [(String, SensitivityResult)]
{
    let loss = SumOfSquaresLoss()
    return [
        ("InterpolatingAdjoint", try gradient(of: loss, problem, algorithm: Tsit5(), options: options, sensealg: InterpolatingAdjoint())),
        ("QuadratureAdjoint", try gradient(of: loss, problem, algorithm: Tsit5(), options: options, sensealg: QuadratureAdjoint())),
        ("BacksolveAdjoint", try gradient(of: loss, problem, algorithm: Tsit5(), options: options, sensealg: BacksolveAdjoint(checkpointing: true))),
    ]
}
