import Testing
import DiffEqCore
import NeuralDE
import NeuralNetworks
import AutoDiff

/// A network whose weights are computed (not a contiguous slice of p) and partly constant, so the
/// vector entries must copy their operands into a block first.
struct ReverseTestGatheredLayer: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        // W (3 x 2) = [[p0, 2], [p1^2, p2], [1, p0 p1]] column-major; b = [p2, 0, -p0].
        let w: [S] = [p[0], p[1] * p[1], 1, 2, p[2], p[0] * p[1]]
        let b: [S] = [p[2], 0, -p[0]]
        let h = denseLayer(u, parameters: w + b, offset: 0, outputs: 3, activation: .sigmoid)
        let s = sumOfElements(h)
        du[0] = s * u[0]
        du[1] = h[1] - s
    }
}

/// Two layers with identity activations and a residual sum, through the explicit TrackedVector
/// API when running on Tracked and the generic one otherwise.
struct ReverseTestResidual: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let h = denseLayer(u, parameters: p, offset: 0, outputs: 2)
        for i in 0..<2 { du[i] = h[i] + u[i] }
    }
}

@Suite struct ReverseVectorTests {
    @Test(arguments: [Activation.identity, .tanh, .relu, .sigmoid])
    func denseLayerVJPMatchesForwardMode(_ activation: Activation) throws {
        var rng = ReverseTestRandom(seed: 11)
        let model = ReverseTestMLP(inputs: 3, hidden: 17, activation: activation)
        let u = rng.array(3), p = rng.array(model.parameterCount), v = rng.array(3)
        let (du, dp) = try rhsVJP(model, u: u, p: p, t: 0, v: v)
        let fwd = forwardRHSVJP(model, u: u, p: p, t: 0, v: v)
        for i in u.indices { #expect(reverseTestClose(du[i], fwd.du[i], scale: fwd.scale[i]), "du[\(i)]") }
        for k in p.indices { #expect(reverseTestClose(dp[k], fwd.dp[k], scale: fwd.scale[3 + k]), "dp[\(k)]") }
    }

    @Test func mlpRecordsAHandfulOfEntries() throws {
        var rng = ReverseTestRandom(seed: 12)
        let model = ReverseTestMLP(inputs: 2, hidden: 50, activation: .tanh)
        let tape = ReverseTape()
        let u = tape.variables([0.3, -0.2])
        let p = tape.variables(rng.array(model.parameterCount))
        var du = [Tracked](repeating: .zero, count: 2)
        model.rhs(&du, u, p, 0)
        // Affine, tanh, affine; the only slots are the variables and the three output blocks.
        #expect(tape.vectorOperationCount == 3)
        #expect(tape.count == 1 + 2 + model.parameterCount + 50 + 50 + 2)
        // Same values as the Double evaluation.
        var plain = [0.0, 0.0]
        model.rhs(&plain, [0.3, -0.2], p.map(\.value), 0)
        for i in 0..<2 { #expect(reverseTestClose(du[i].value, plain[i], scale: 10)) }
    }

    @Test func gatheredAndConstantOperands() throws {
        let model = ReverseTestGatheredLayer()
        let u = [0.4, -0.9], p = [0.7, -1.3, 0.2], v = [1.0, 0.5]
        let (du, dp) = try rhsVJP(model, u: u, p: p, t: 0, v: v)
        let fwd = forwardRHSVJP(model, u: u, p: p, t: 0, v: v)
        for i in u.indices { #expect(reverseTestClose(du[i], fwd.du[i], scale: fwd.scale[i]), "du[\(i)]") }
        for k in p.indices { #expect(reverseTestClose(dp[k], fwd.dp[k], scale: fwd.scale[2 + k]), "dp[\(k)]") }
        try ReverseReuseTests().checkReuse("gathered", model, u0: u, p0: p, seed: 13)
    }

    @Test func explicitTrackedVectorAPI() throws {
        let tape = ReverseTape()
        let x = tape.variables([1, 2])
        let p = tape.variables([0.5, -1, 2, 0.25, 0.1, -0.2])  // W (2 x 2) then b
        let xv = TrackedVector(x)!
        let y = xv.affine(weights: TrackedVector(p[0..<4])!, bias: TrackedVector(p[4..<6])!)
        let z = (y + xv).tanh().sum()
        tape.pullback(output: z)
        let g = tape.variableAdjoints()
        // The same function on duals.
        let forward = gradient(of: { (a: [Dual<8, Double>]) -> Dual<8, Double> in
            let y0 = a[2] * a[0] + a[4] * a[1] + a[6] + a[0]
            let y1 = a[3] * a[0] + a[5] * a[1] + a[7] + a[1]
            return tanh(y0) + tanh(y1)
        }, at: [1, 2, 0.5, -1, 2, 0.25, 0.1, -0.2])
        for k in 0..<8 { #expect(reverseTestClose(g[k], forward[k], scale: 1), "∂/∂x\(k)") }
        #expect(TrackedVector([Tracked(1), Tracked(2)]) == nil)
        #expect(y.values.count == 2 && y.elements.count == 2)
    }

    @Test func residualLayerMatchesForwardMode() throws {
        let u = [0.3, 0.8], p = [1, 2, 3, 4, 5, 6.0], v = [1.0, -1.0]
        let (du, dp) = try rhsVJP(ReverseTestResidual(), u: u, p: p, t: 0, v: v)
        let fwd = forwardRHSVJP(ReverseTestResidual(), u: u, p: p, t: 0, v: v)
        #expect(du == fwd.du)
        #expect(dp == fwd.dp)
    }

    @Test func largeLayerGoesThroughBLAS() throws {
        // 80 x 80 weights: past the loop threshold, so gemv / dger-through-dgemm run.
        var rng = ReverseTestRandom(seed: 14)
        let model = ReverseTestMLP(inputs: 80, hidden: 80, activation: .tanh)
        let u = rng.array(80), p = rng.array(model.parameterCount, scale: 0.2), v = rng.array(80)
        let tape = RHSTape(model)
        let (du, dp) = try tape.vjp(u: u, p: p, t: 0, v: v)
        // Reference: the same network with scalar tape entries only.
        let scalar = ReverseTestScalarMLP(inputs: 80, hidden: 80)
        let (du2, dp2) = try rhsVJP(scalar, u: u, p: p, t: 0, v: v)
        for i in u.indices { #expect(reverseTestClose(du[i], du2[i], scale: 10, rtol: 1e-12), "du[\(i)]") }
        for k in p.indices { #expect(reverseTestClose(dp[k], dp2[k], scale: 10, rtol: 1e-12), "dp[\(k)]") }
        let again = try tape.vjp(u: u.map { $0 * 0.9 }, p: p, t: 0, v: v)
        let freshAgain = try rhsVJP(model, u: u.map { $0 * 0.9 }, p: p, t: 0, v: v)
        #expect(again.dp == freshAgain.dp)
    }
}
