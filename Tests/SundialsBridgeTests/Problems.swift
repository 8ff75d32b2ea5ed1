import DiffEqCore
import Glibc
import Synchronization

// Test problems, defined here so that these tests depend only on DiffEqCore and the bridge.

/// Counts calls of a right-hand side or Jacobian. The closures of a problem are `@Sendable` (a problem
/// may be solved on any thread), so the counter they capture is an atomic.
final class CallCounter: Sendable {
    private let calls = Atomic<Int>(0)
    var count: Int { calls.load(ordering: .relaxed) }
    func increment() { calls.wrappingAdd(1, ordering: .relaxed) }
}

/// `u' = -0.5 u`, `u(0) = u0`: `u(t) = u0 exp(-t/2)`.
func decayProblem(u0: Double = 1, tspan: (Double, Double) = (0, 2), counter: CallCounter? = nil)
    -> ODEProblem<ClosureRHS<Double>>
{
    ODEProblem(
        f: { du, u, p, _ in
            counter?.increment()
            du[0] = p[0] * u[0]
        },
        u0: [u0], tspan: tspan, p: [-0.5])
}

/// Lotka-Volterra `x' = a x - b x y`, `y' = -c y + d x y`.
func lotkaVolterraProblem() -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(
        f: { du, u, p, _ in
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
        },
        u0: [1, 1], tspan: (0, 10), p: [1.5, 1, 3, 1])
}

/// Robertson's chemical kinetics (problem ROBER of the IVP test set; E. Hairer and G. Wanner,
/// Solving ODEs II, §IV.1): `p = [k1, k2, k3] = [0.04, 3e7, 1e4]`, `u0 = [1, 0, 0]`.
func roberProblem(
    tspan: (Double, Double) = (0, 1e11), analyticJacobian: Bool = false, jacobianCounter: CallCounter? = nil
) -> ODEProblem<ClosureRHS<Double>> {
    let f: ClosureRHS<Double>.Function = { du, u, p, _ in
        let (k1, k2, k3) = (p[0], p[1], p[2])
        du[0] = -k1 * u[0] + k3 * u[1] * u[2]
        du[1] = k1 * u[0] - k2 * u[1] * u[1] - k3 * u[1] * u[2]
        du[2] = k2 * u[1] * u[1]
    }
    // Column-major: J[i + 3j] = df_i/du_j.
    let jac: ClosureRHS<Double>.Function = { J, u, p, _ in
        jacobianCounter?.increment()
        let (k1, k2, k3) = (p[0], p[1], p[2])
        J[0] = -k1
        J[1] = k1
        J[2] = 0
        J[3] = k3 * u[2]
        J[4] = -2 * k2 * u[1] - k3 * u[2]
        J[5] = 2 * k2 * u[1]
        J[6] = k3 * u[1]
        J[7] = -k3 * u[1]
        J[8] = 0
    }
    return ODEProblem(
        f: f, jacobian: analyticJacobian ? jac : nil, u0: [1, 0, 0], tspan: tspan, p: [0.04, 3e7, 1e4])
}

/// The reference solution of ROBER at t = 1e11 from the Test Set for IVP Solvers (F. Mazzia and
/// C. Magherini, release 2.4, University of Bari, 2008,
/// https://archimede.uniba.it/~testset/report/rober.pdf, §"Reference solution").
let roberReference: [Double] = [0.2083340149701255e-07, 0.8333360770334713e-13, 0.9999999791665050]

func relativeError(_ a: Double, _ b: Double) -> Double {
    abs(a - b) / abs(b)
}
