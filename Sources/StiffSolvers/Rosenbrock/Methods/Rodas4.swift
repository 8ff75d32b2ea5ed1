import DiffEqCore

/// Hairer and Wanner's Rodas: a six-stage, stiffly accurate, L-stable Rosenbrock method of
/// order 4 with an embedded (also stiffly accurate) solution of order 3 and a continuous
/// extension of order 3, for stiff ODEs and index-1 DAEs `M u' = f(u, p, t)`.
///
/// ```swift
/// let sol = try solve(TestProblems.hires(), Rodas4(), reltol: 1e-6, abstol: 1e-6)
/// ```
///
/// References: E. Hairer and G. Wanner, Solving Ordinary Differential Equations II, 2nd ed.,
/// Springer (1996), §VI.4 ("Construction of Rosenbrock methods for DAEs", method RODAS) and the
/// code rodas.f (version of October 28, 1996, subroutine ROCOEF, METH = 1).
public struct Rodas4: RosenbrockAlgorithm, Sendable {
    public var jacobian: JacobianSource
    public var linearSolver: LinearSolver
    public init(jacobian: JacobianSource = .automatic, linearSolver: LinearSolver = .automatic) {
        self.jacobian = jacobian
        self.linearSolver = linearSolver
    }
    public var tableau: RosenbrockTableau { .rodas4 }
}

extension RosenbrockTableau {
    /// rodas.f, ROCOEF with METH = 1 (Hairer & Wanner II §VI.4): `A_ij`, `C_ij`, `γ = 1/4`, the
    /// nodes `c = (0, 0.386, 0.21, 0.63, 1, 1)`, `d_i` and the dense-output rows `D2j`, `D3j`. The
    /// last two stages are evaluated at `t + h`: stage 6 at the embedded solution, and
    /// `u_new = (argument of stage 6) + U_6`, so the error estimate is `U_6`.
    public static let rodas4: RosenbrockTableau = {
        let a21 = 0.1544000000000000e+01
        let a31 = 0.9466785280815826e+00, a32 = 0.2557011698983284e+00
        let a41 = 0.3314825187068521e+01, a42 = 0.2896124015972201e+01, a43 = 0.9986419139977817e+00
        let a51 = 0.1221224509226641e+01, a52 = 0.6019134481288629e+01, a53 = 0.1253708332932087e+02
        let a54 = -0.6878860361058950e+00
        let a: [[Double]] = [
            [], [a21], [a31, a32], [a41, a42, a43], [a51, a52, a53, a54], [a51, a52, a53, a54, 1],
        ]
        let C: [[Double]] = [
            [],
            [-0.5668800000000000e+01],
            [-0.2430093356833875e+01, -0.2063599157091915e+00],
            [-0.1073529058151375e+00, -0.9594562251023355e+01, -0.2047028614809616e+02],
            [0.7496443313967647e+01, -0.1024680431464352e+02, -0.3399990352819905e+02, 0.1170890893206160e+02],
            [
                0.8083246795921522e+01, -0.7981132988064893e+01, -0.3152159432874371e+02, 0.1631930543123136e+02,
                -0.6058818238834054e+01,
            ],
        ]
        let c: [Double] = [0, 0.386, 0.21, 0.63, 1, 1]
        let d: [Double] = [0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0, 0]
        let dense: [[Double]] = [
            [
                0.1012623508344586e+02, -0.7487995877610167e+01, -0.3480091861555747e+02, -0.7992771707568823e+01,
                0.1025137723295662e+01, 0,
            ],
            [
                -0.6762803392801253e+00, 0.6087714651680015e+01, 0.1643084320892478e+02, 0.2476722511418386e+02,
                -0.6594389125716872e+01, 0,
            ],
        ]
        // Step control as in rodas.f: the error estimate is O(h⁴), so the PI gains of
        // Gustafsson (HNW II §IV.8) with k = 4; safety 0.9, step ratio in [1/5, 6] (FAC1 = 5,
        // FAC2 = 1/6 in rodas.f).
        let controller = PIController(beta1: 0.7 / 4, beta2: 0.4 / 4, safety: 0.9, qmin: 0.2, qmax: 6)
        return try! RosenbrockTableau(
            name: "Rodas4", order: 4, embeddedOrder: 3, gamma: 0.25, a: a, C: C, c: c, d: d,
            m: [a51, a52, a53, a54, 1, 1], mhat: [a51, a52, a53, a54, 1, 0], dense: dense, isStifflyAccurate: true,
            isLStable: true, controller: controller)
    }()
}
