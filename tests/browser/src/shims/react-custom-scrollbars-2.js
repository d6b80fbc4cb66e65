// react-custom-scrollbars-2 is CommonJS with its component on exports.default; Grafana's .mjs
// files import it as a default, which a bundler following Node's rules resolves to the whole
// exports object. This module hands them the component itself.
import { Scrollbars } from 'react-custom-scrollbars-2/lib/index.js';

export default Scrollbars;
export { Scrollbars };
