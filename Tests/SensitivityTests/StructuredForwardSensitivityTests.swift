import Foundation
import Testing
import DiffEqCore
import ProblemLibrary
import Sensitivity
import StiffSolvers
import SensitivityCVODES
import SundialsBridge

/// `ForwardSensitivity` with a stiff method solves the augmented system through its block
/// structure (`JacobianStructure.variational`): one LU of the state's `W`, block forward
/// substitution. `linearSolver: .denseLU` keeps the former path (dense Jacobian and LU of the
/// whole augmented system), which these tests use as the reference: the two must agree to
/// rounding, and both with CVODES and the adjoints.
@Suite struct StructuredForwardSensitivityTests {
    /// The largest difference relative to the largest entry of `reference`.
    func normwise(_ a: [Double], _ reference: [Double]) -> Double {
        let scale = reference.map(abs).max() ?? 0
        return zip(a, reference).map { abs($0 - $1) }.max().map { $0 / Swift.max(scale, .leastNormalMagnitude) } ?? 0
    }

    @Test func blockSolveMatchesTheDenseAugmentedSolve() throws {
        let loss = SumOfSquaresLoss()
        let rober = ODEProblem(model: Rober(), u0: [1.0, 0, 0], tspan: (0, 40), p: [0.04, 3e7, 1e4])
        // Small systems only: the dense augmented reference factors an n(1 + m) matrix (POLLU's
        // 900 x 900 took minutes in a debug build; measured once on the branch: 1.1e-14 relative,
        // same nf and steps, with Rodas5P at reltol 1e-7).
        let bruss = Brusselator2D(gridSize: 2)
        let brussProblem = ODEProblem(model: bruss, u0: bruss.initialState, tspan: (0, 1), p: bruss.nominalParameters)
        func pair<M: ODEModel, A: RosenbrockAlgorithm>(
            _ problem: ODEProblem<GenericRHS<M, Double>>, _ structured: A, _ dense: A, _ options: SolveOptions, _ label: String
        ) throws {
            let a = try gradient(of: loss, problem, algorithm: structured, options: options, sensealg: ForwardSensitivity())
            let b = try gradient(of: loss, problem, algorithm: dense, options: options, sensealg: ForwardSensitivity())
            let e = normwise(a.dp + a.du0, b.dp + b.du0)
            print("\(label): block vs dense augmented solve, rel diff \(e); block \(a.stats), dense \(b.stats)")
            #expect(e < 1e-10, "\(label)")
            #expect(abs(a.loss - b.loss) <= 1e-12 * abs(b.loss), "\(label)")
        }
        try pair(rober, Rodas4(), Rodas4(linearSolver: .denseLU), SolveOptions(reltol: 1e-8, abstol: 1e-12, saveat: .every(4)), "ROBER Rodas4")
        try pair(
            brussProblem, Rodas5P(), Rodas5P(linearSolver: .denseLU), SolveOptions(reltol: 1e-7, abstol: 1e-5, saveat: .every(0.1)),
            "Brusselator 2x2 Rodas5P")
        // SDIRK: the same Newton matrices, so the same iterations up to rounding.
        let options = SolveOptions(reltol: 1e-7, abstol: 1e-9, saveat: .every(4))
        let a = try gradient(of: loss, rober, algorithm: KenCarp4(), options: options, sensealg: ForwardSensitivity())
        let b = try gradient(of: loss, rober, algorithm: KenCarp4(linearSolver: .denseLU), options: options, sensealg: ForwardSensitivity())
        let e = normwise(a.dp + a.du0, b.dp + b.du0)
        print("ROBER KenCarp4: block vs dense augmented solve, rel diff \(e)")
        #expect(e < 1e-10)
    }

    /// The 2-D Brusselator (3 x 3 grid: 18 states, 36 parameters) at tight tolerances: the
    /// block-solved forward sensitivities agree with CVODES' forward sensitivities (its own
    /// BDF and Newton matrix) and with the interpolating and quadrature adjoints to 1e-6.
    @Test func brusselatorAgreesWithCVODESForwardAndTheAdjoints() throws {
        let gradients = try brusselator3x3Gradients(
            reltol: 1e-10, abstol: 1e-10,
            [ForwardSensitivity(), CVODESForward(), InterpolatingAdjoint(), QuadratureAdjoint()])
        let forward = gradients[0]
        for r in gradients.dropFirst() {
            let e = relativeError(forward.dp + forward.du0, r.dp + r.du0)
            print("Brusselator 3x3 ForwardSensitivity (block solve) vs \(r.method): rel diff \(e)")
            #expect(e < 1e-6, "\(r.method)")
        }
    }

    @Test func variationalStructureIsValidated() throws {
        // A variational structure whose state count does not divide the dimension is refused
        // before any work, as is one with a mass matrix.
        struct Bad: ODEModel {
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
                for i in u.indices { du[i] = -u[i] }
            }
            var jacobianStructure: JacobianStructure { .variational(stateCount: 2) }
        }
        let problem = ODEProblem(model: Bad(), u0: [1.0, 2, 3], tspan: (0, 1), p: [])
        #expect(throws: DiffEqError.self) { _ = try solve(problem, Rodas5P(), reltol: 1e-6) }
        #expect(throws: DiffEqError.self) { _ = try solve(problem, KenCarp4(), reltol: 1e-6) }
        let even = ODEProblem(model: Bad(), u0: [1.0, 2, 3, 4], tspan: (0, 1), p: [])
        let sol = try solve(even, Rodas5P(), reltol: 1e-8, abstol: .scalar(1e-10))
        #expect(sol.retcode == .success)
        let last = try #require(sol.u.last)
        for (x, x0) in zip(last, [1.0, 2, 3, 4]) { #expect(abs(x - x0 * exp(-1)) < 1e-7) }
    }
}
