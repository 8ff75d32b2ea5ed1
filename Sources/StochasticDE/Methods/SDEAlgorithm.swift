/// A method for SDEs: a value that names its scheme (DESIGN.md §5, a method is data). The
/// closed enum ``SDEScheme`` is what ``SDEStepper`` switches over, as the ODE loops switch over
/// `StepController` (DESIGN.md §11), so no existential sits in the step.
public protocol SDEAlgorithm: Sendable {
    var scheme: SDEScheme { get }
}

/// The schemes the step kernels implement.
public enum SDEScheme: Sendable, Hashable {
    /// Euler–Maruyama (Itô).
    case eulerMaruyama
    /// Euler–Maruyama with Lamba's error estimate, adaptive (Itô).
    case lambaEM
    /// The drift-implicit θ-method with Lamba's error estimate, adaptive (Itô).
    case implicitEM(theta: Double)
    /// Stochastic Heun (Stratonovich).
    case eulerHeun
    /// Derivative-free Milstein, Itô or Stratonovich.
    case rkMil(SDEInterpretation)
    /// Rößler's SRI family for diagonal and scalar noise (Itô, strong order 1.5).
    case sri(SRITableau)
    /// Rößler's SRA family for additive noise (strong order 1.5).
    case sra(SRATableau)

    public var name: String {
        switch self {
        case .eulerMaruyama: return "EM"
        case .lambaEM: return "LambaEM"
        case .implicitEM(let theta): return theta == 1 ? "ImplicitEM" : "ImplicitEM(θ = \(theta))"
        case .eulerHeun: return "EulerHeun"
        case .rkMil(let i): return i == .ito ? "RKMil" : "RKMil(Stratonovich)"
        case .sri(let tab): return tab.name
        case .sra(let tab): return tab.name
        }
    }

    /// The calculus the method solves in (additive noise: both coincide).
    public var interpretation: SDEInterpretation {
        switch self {
        case .eulerMaruyama, .lambaEM, .implicitEM, .sri, .sra: return .ito
        case .eulerHeun: return .stratonovich
        case .rkMil(let i): return i
        }
    }

    /// The published strong order on the noise kinds the method accepts (EulerHeun: 1 for
    /// commutative noise, 0.5 in general; EM: 1 for additive noise).
    public var strongOrder: Double {
        switch self {
        case .eulerMaruyama, .lambaEM, .implicitEM, .eulerHeun: return 0.5
        case .rkMil: return 1.0
        case .sri, .sra: return 1.5
        }
    }

    /// Whether the step reads `ΔZ` (the auxiliary process) for `I₍₁,₀₎`.
    public var needsAuxiliaryIncrement: Bool {
        switch self {
        case .sri, .sra: return true
        default: return false
        }
    }

    /// Whether the step leaves an embedded error estimate in ``SDEStepper/driftErrorTerm`` and
    /// ``SDEStepper/diffusionErrorTerm`` (Rackauckas & Nie 2017, §3: `E = δ E₁ + E₂`).
    public var hasErrorEstimate: Bool {
        switch self {
        case .sri, .sra, .lambaEM, .implicitEM: return true
        default: return false
        }
    }

    /// `nil` when the method integrates `noise`; otherwise why not.
    public func unsupportedReason(_ noise: NoiseKind) -> String? {
        switch (self, noise) {
        case (.eulerMaruyama, _), (.lambaEM, _), (.implicitEM, _), (.eulerHeun, _): return nil
        case (.rkMil, .general), (.sri, .general):
            return "it needs the iterated integrals I(j,k) of diagonal or scalar noise; for general noise use EM or EulerHeun"
        case (.rkMil, _), (.sri, _): return nil
        case (.sra, .additive): return nil
        case (.sra, _):
            return "it is built for additive noise (declare `noise: .additive`; for multiplicative noise use an SRI method)"
        }
    }
}
