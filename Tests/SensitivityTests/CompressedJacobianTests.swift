import Testing
import AutoDiff
import DiffEqCore
import ProblemLibrary
import StiffSolvers
@testable import Sensitivity
import SensitivityCVODES

/// A model that branches on its state: its tape cannot vouch for one sparsity pattern.
private struct Branching: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { du[i] = u[i] > S(0.0) ? p[0] * u[i] : p[0] * u[(i + 1) % u.count] }
    }
}

@Suite struct CompressedJacobianTests {
    /// The compressed Jacobians equal the dense forward-mode ones bitwise, in the forward layout
    /// and in the adjoint layouts (`−(∂f/∂u)ᵀ`, and the `[λ; μ]` system's with `∂f/∂p`).
    private func checkAgainstDense<M: ODEModel>(_ model: M, u: [Double], p: [Double], t: Double) throws -> Int {
        let n = u.count, np = p.count
        let tape = RHSTape(model)
        let state = try #require(
            _CompressedJacobian.make(model, tape: tape, u: u, p: p, t: t, includeParameters: false))
        let both = try #require(_CompressedJacobian.make(model, tape: tape, u: u, p: p, t: t, includeParameters: true))
        // Another point than the one recorded: the structure carries over.
        let v = u.enumerated().map { i, x in x * (1 + 0.01 * Double(i % 7)) + 0.001 }
        var dense = [Double](repeating: 0, count: n * n)
        GenericRHS(model, as: Double.self).forwardModeJacobian(&dense, v, p, t)
        let (ju, jp) = rhsJacobians(model, u: v, p: p, t: t)
        var J = [Double](repeating: .nan, count: n * n)
        J.withUnsafeMutableBufferPointer { j in
            v.withUnsafeBufferPointer { v in
                state.evaluate(into: j.baseAddress!, count: n * n, u: v.baseAddress!, p: p, t: t, negatedTranspose: false, leading: n)
            }
        }
        #expect(J == dense)
        J.withUnsafeMutableBufferPointer { j in
            v.withUnsafeBufferPointer { v in
                state.evaluate(into: j.baseAddress!, count: n * n, u: v.baseAddress!, p: p, t: t, negatedTranspose: true, leading: n)
            }
        }
        #expect((0..<n).allSatisfy { i in (0..<n).allSatisfy { j in J[i + j * n] == -dense[j + i * n] } })
        let size = n + np
        var K = [Double](repeating: .nan, count: size * size)
        K.withUnsafeMutableBufferPointer { k in
            v.withUnsafeBufferPointer { v in
                both.evaluate(into: k.baseAddress!, count: size * size, u: v.baseAddress!, p: p, t: t, negatedTranspose: true, leading: size)
            }
        }
        var expected = [Double](repeating: 0, count: size * size)
        for i in 0..<n { for j in 0..<n { expected[i + j * size] = -ju[j, i] } }
        for k in 0..<np { for j in 0..<n { expected[(n + k) + j * size] = -jp[j, k] } }
        #expect(K == expected)
        // λᵀ ∂f/∂p against the tape's reverse sweep.
        let products = try #require(_CompressedJacobian.makeParameterProduct(model, tape: tape, u: u, p: p, t: t))
        #expect(products.evaluationsPerJacobian == 1)
        let lambda = (0..<n).map { Double($0 % 5) - 1.5 }
        var dp = [Double](repeating: .nan, count: np)
        products.parameterProduct(lambda, u: v, p: p, t: t, into: &dp)
        let (_, reference) = try tape.vjp(u: v, p: p, t: t, v: lambda)
        #expect(relativeError(dp, reference) < 1e-13)
        return state.evaluationsPerJacobian
    }

    /// The stage Jacobian's products `−λᵀ∂f/∂u` (and `−λᵀ∂f/∂p`) agree with the tape's reverse
    /// sweep, its scatter with the compressed Jacobian's adjoint layout bitwise, and it holds
    /// one point until it is evaluated at another or invalidated.
    @Test func stageJacobianProductsMatchTheTape() throws {
        for N in [2, 3, 5] {
            let model = Brusselator2D(gridSize: N)
            let u = model.initialState, p = model.nominalParameters
            let n = u.count, np = p.count
            let tape = RHSTape(model)
            let pattern = try #require(try tape.dependencyPattern(u: u, p: p, t: 0))
            let v = u.enumerated().map { i, x in x * (1 + 0.01 * Double(i % 7)) + 0.001 }
            let lambda = (0..<n).map { Double($0 % 5) - 1.5 }
            let (du, dp) = try tape.vjp(u: v, p: p, t: 0.3, v: lambda)
            for columns in [n, n + np] {
                let jacobian = try #require(
                    _CompressedJacobian(model, pattern: pattern, n: n, p: p, columns: 0..<columns, maxEvaluations: 2))
                let stage = _StageJacobian(jacobian)
                #expect(!stage.holds(0.3))
                v.withUnsafeBufferPointer { v in stage.evaluate(u: v.baseAddress!, p: p, t: 0.3) }
                #expect(stage.holds(0.3) && !stage.holds(0.4))
                var out = [Double](repeating: .nan, count: columns)
                lambda.withUnsafeBufferPointer { l in
                    out.withUnsafeMutableBufferPointer { o in
                        stage.negatedProduct(l.baseAddress!, into: o.baseAddress!, includeParameters: columns > n)
                    }
                }
                let expected = (du + (columns > n ? dp : [])).map { -$0 }
                #expect(relativeError(out, expected) < 1e-13, "N = \(N), \(columns) columns")
                var scattered = [Double](repeating: .nan, count: columns * columns)
                var reference = scattered
                scattered.withUnsafeMutableBufferPointer { j in
                    stage.scatterNegatedTranspose(into: j.baseAddress!, count: columns * columns, leading: columns)
                }
                reference.withUnsafeMutableBufferPointer { j in
                    v.withUnsafeBufferPointer { v in
                        jacobian.evaluate(
                            into: j.baseAddress!, count: columns * columns, u: v.baseAddress!, p: p, t: 0.3,
                            negatedTranspose: true, leading: columns)
                    }
                }
                #expect(scattered == reference)
                stage.invalidate()
                #expect(!stage.holds(0.3))
            }
        }
    }

    @Test func brusselatorMatchesDenseForwardMode() throws {
        for N in [3, 5, 8] {
            let model = Brusselator2D(gridSize: N)
            let evaluations = try checkAgainstDense(model, u: model.initialState, p: model.nominalParameters, t: 0.3)
            // The five-point stencil on a torus: a bounded number of colors at every grid size.
            #expect(evaluations <= 2, "N = \(N): \(evaluations) dual evaluations")
        }
    }

    @Test func dependencyPatternOfTheBrusselator() throws {
        let model = Brusselator2D(gridSize: 4)
        let pattern = try #require(
            try RHSTape(model).dependencyPattern(u: model.initialState, p: model.nominalParameters, t: 0))
        // du of cell 0: u of itself and its four neighbours, v of itself, and its A, B, α_u.
        #expect(pattern[0] == [0, 1, 3, 4, 12, 16, 32, 33, 34])
        // dv of cell 0: u and v of itself, v of its four neighbours, and its A, α_v.
        #expect(pattern[16] == [0, 16, 17, 19, 20, 28, 32, 35])
    }

    @Test func branchingModelsFallBackToDenseJacobians() throws {
        let u = (0..<12).map { Double($0) - 5.5 }
        #expect(try RHSTape(Branching()).dependencyPattern(u: u, p: [2], t: 0) == nil)
        #expect(_CompressedJacobian.make(Branching(), tape: RHSTape(Branching()), u: u, p: [2], t: 0, includeParameters: false) == nil)
    }

    /// The adjoints whose stiff solves take compressed Jacobians agree with forward mode.
    @Test func brusselatorAdjointsMatchForwardMode() throws {
        let gradients = try brusselator3x3Gradients(
            reltol: 1e-8, abstol: 1e-8,
            [
                ForwardDiffSensitivity(), QuadratureAdjoint(), InterpolatingAdjoint(),
                InterpolatingAdjoint(checkpointing: true), CVODESAdjoint(),
            ])
        let reference = gradients[0]
        for r in gradients.dropFirst() {
            let e = relativeError(r.dp + r.du0, reference.dp + reference.du0)
            print("Brusselator 3x3 \(r.method): rel diff to ForwardDiffSensitivity \(e); \(r.stats)")
            #expect(e < 1e-5, "\(r.method)")
        }
    }
}
