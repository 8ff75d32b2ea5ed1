import DiffEqCore
import SundialsBridge
import Testing

/// Both CVODE algorithms, for parameterised tests.
enum Method: String, CaseIterable, CustomTestStringConvertible {
    case adams = "CVODE_Adams"
    case bdf = "CVODE_BDF"

    var algorithm: any ODEAlgorithm {
        switch self {
        case .adams: return CVODE_Adams()
        case .bdf: return CVODE_BDF()
        }
    }

    var testDescription: String { rawValue }
}
