import Testing
import DiffEqCore
import ExplicitRK
import Sensitivity
import StiffSolvers
import SundialsBridge
import SensitivityCVODES

// A right-hand side that writes an array of another length into `du` (issue #14: the fuzzer's
// cases 20261207:185, 1:2263 and 1:2725 trapped with an index out of range in
// ForwardSensitivityModel, rhsJacobians and the CVODES workspace). A plain solve ends such a
// run as Unstable with a message; every gradient must end it in a SensitivityError that says
// so, never a trap and never a gradient reported as success.

/// `u' = -p0 u` (two components) that, from `t >= from`, writes `du` one component short or
/// long; with `derivativesOnly` only when evaluated on a scalar other than `Double` (dual and
/// tracked numbers), so the plain forward pass succeeds and the sensitivity path alone meets it.
private struct ResizingModel: ODEModel {
    var lengthen: Bool
    var derivativesOnly: Bool
    var from: Double

    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let resize = derivativesOnly ? S.self != Double.self : t.primal >= from
        if resize {
            du = lengthen ? [-p[0] * u[0], -p[0] * u[1], S(1.0)] : [-p[0] * u[0]]
            return
        }
        du[0] = -p[0] * u[0]
        du[1] = -p[0] * u[1]
    }
}

@Suite struct OutputLengthRobustnessTests {
    static let cases: [(lengthen: Bool, derivativesOnly: Bool)] = [
        (false, false), (true, false), (false, true), (true, true),
    ]

    /// Records an issue unless `gradient` throws an error that names the resized `du`.
    private static func expectResizedDuError(_ label: String, _ gradient: () throws -> SensitivityResult) {
        do {
            let r = try gradient()
            Issue.record("\(label): no error for a resized du, loss \(r.loss), dp \(r.dp), du0 \(r.du0)")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("length of du") || text.contains("du written by the model"), "\(label): \(text)")
        }
    }

    /// The model of case `c`, resizing its output from `t = 0.5` on.
    private static func problem(_ c: (lengthen: Bool, derivativesOnly: Bool)) -> ODEProblem<GenericRHS<ResizingModel, Double>> {
        ODEProblem(
            model: ResizingModel(lengthen: c.lengthen, derivativesOnly: c.derivativesOnly, from: 0.5),
            u0: [1.0, 2.0], tspan: (0, 1), p: [0.7])
    }

    /// The plain solve this mirrors: a failure code whose message names the length change.
    /// Rodas5P forms `∂f/∂u` by dual numbers (`GenericRHS.forwardModeJacobian`), which trapped
    /// on the resized `du` until the same check covered it.
    @Test func plainSolveFails() throws {
        for c in Self.cases {
            let prob = Self.problem(c)
            let options = SolveOptions(reltol: 1e-8, abstol: 1e-10)
            let explicit = try solve(prob, Tsit5(), options: options)
            let implicit = try solve(prob, Rodas5P(), options: options)
            if c.derivativesOnly {
                #expect(explicit.retcode.isSuccessful, "\(c): \(explicit.message ?? "")")
                // Only the dual Jacobian is NaN here, and Rodas5P still reaches the end (measured:
                // Success, 2678 steps, u(1) = 0.49658530 = 1·exp(-0.7)); what must not happen is a
                // trap or a non-finite state reported as success.
                #expect(
                    !implicit.retcode.isSuccessful || implicit.u.allSatisfy { $0.allSatisfy(\.isFinite) },
                    "\(c): \(implicit.retcode) \(implicit.u.last ?? [])")
                continue
            }
            for sol in [explicit, implicit] {
                #expect(!sol.retcode.isSuccessful, "\(c)")
                #expect(sol.message?.contains("length of du") == true, "\(c): \(sol.message ?? "no message")")
            }
        }
    }

    @Test(arguments: robustMethodNames) func resizedDuIsAnError(_ m: String) {
        for c in Self.cases {
            let prob = Self.problem(c)
            let o = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times([0.25, 0.75, 1.0]))
            Self.expectResizedDuError("\(m) \(c)") { try robustGradient(m, SumOfSquaresLoss(), prob, o) }
        }
    }

    /// With an implicit integrator the native adjoints also form `∂f/∂u` of the backward system
    /// (`rhsJacobians`, where fuzz case 1:2263 trapped), and CVODES its Jacobian callback.
    @Test(arguments: ["Interpolating", "Quadrature", "Backsolve", "CVODESForward", "CVODESAdjoint"])
    func resizedDuUnderImplicitIntegrator(_ m: String) {
        for c in Self.cases {
            let prob = Self.problem(c)
            let o = SolveOptions(reltol: 1e-6, abstol: 1e-8, saveat: .times([0.25, 0.75, 1.0]))
            Self.expectResizedDuError("\(m) \(c)") {
                switch m {
                case "Interpolating":
                    try gradient(of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: o, sensealg: InterpolatingAdjoint())
                case "Quadrature":
                    try gradient(of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: o, sensealg: QuadratureAdjoint())
                case "Backsolve":
                    try gradient(of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: o, sensealg: BacksolveAdjoint())
                case "CVODESForward":
                    try gradient(of: SumOfSquaresLoss(), prob, algorithm: CVODE_BDF(), options: o, sensealg: CVODESForward())
                default:
                    try gradient(of: SumOfSquaresLoss(), prob, algorithm: CVODE_BDF(), options: o, sensealg: CVODESAdjoint())
                }
            }
        }
    }
}
